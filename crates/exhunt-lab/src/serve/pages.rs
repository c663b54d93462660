//! The pages the lab serves. The OWA logon page is the lab's own short rendition with the markers scanners read
//! (`<title>Outlook</title>`, the `OwaPage` comment, the build in resource paths); it is not a copy of a real page.

use exhunt_model::Build;

/// The OWA forms logon page. 2013 and later name the CU in `/owa/auth/<major.minor.build>/themes/`; 2010 names the
/// full build in `/owa/<build>/themes/`.
pub fn logon(build: &Build) -> String {
    let res = if build.major >= 15 {
        format!("/owa/auth/{}/themes/resources", build.cu_prefix())
    } else {
        format!("/owa/{build}/themes/resources")
    };
    format!(
        "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<!-- OwaPage = ASP.auth_logon_aspx -->\r\n\
         <meta http-equiv=\"X-UA-Compatible\" content=\"IE=10\" />\r\n\
         <link rel=\"shortcut icon\" href=\"{res}/favicon.ico\" type=\"image/x-icon\">\r\n\
         <link type=\"text/css\" rel=\"stylesheet\" href=\"{res}/logon.css\">\r\n\
         <title>Outlook</title>\r\n\
         <script type=\"text/javascript\">function IsOwaPremiumBrowser(){{return true;}}</script>\r\n\
         </head>\r\n<body class=\"signInBg\">\r\n\
         <noscript><div id=\"dvErr\">To use Outlook, browser settings must allow scripts to run.</div></noscript>\r\n\
         <form action=\"/owa/auth.owa\" method=\"POST\" name=\"logonForm\" ENCTYPE=\"application/x-www-form-urlencoded\" autocomplete=\"off\">\r\n\
         <input id=\"username\" name=\"username\" type=\"email\"><input id=\"password\" name=\"password\" type=\"password\">\r\n\
         </form>\r\n<img src=\"{res}/clear1x1.gif\">\r\n</body>\r\n</html>\r\n"
    )
}

/// The ClickOnce manifest of the eDiscovery export tool, which names the full build.
pub fn exporttool(build: &Build) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<asmv1:assembly xsi:schemaLocation=\"urn:schemas-microsoft-com:asm.v1 assembly.adaptive.xsd\" manifestVersion=\"1.0\" xmlns:asmv1=\"urn:schemas-microsoft-com:asm.v1\" xmlns=\"urn:schemas-microsoft-com:asm.v2\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\r\n\
         <assemblyIdentity name=\"microsoft.exchange.ediscovery.exporttool.application\" version=\"{build}\" publicKeyToken=\"b03f5f7f11d50a3a\" language=\"neutral\" processorArchitecture=\"msil\" xmlns=\"urn:schemas-microsoft-com:asm.v1\" />\r\n\
         <description asmv2:publisher=\"Microsoft Corporation\" asmv2:product=\"Microsoft Exchange\" xmlns:asmv2=\"urn:schemas-microsoft-com:asm.v2\" />\r\n\
         <deployment install=\"false\" trustURLParameters=\"true\" />\r\n</asmv1:assembly>\r\n"
    )
}

pub const IIS_404: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\">\r\n<html><head><title>404 - File or directory not found.</title></head>\r\n<body><div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\"><fieldset><h2>404 - File or directory not found.</h2>\r\n<h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3></fieldset></div></body></html>\r\n";

pub const CUSTOM_404: &str = "<html><head><title>Page not found</title></head><body><h1>Sorry, we could not find that page.</h1><p>Contact the service desk.</p></body></html>\r\n";

pub const SOFT_200: &str =
    "<html><head><title>Welcome</title></head><body><p>Welcome to our mail portal.</p></body></html>\r\n";

pub const IIS_DEFAULT: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\" />\r\n<title>IIS Windows Server</title>\r\n</head>\r\n<body>\r\n<div id=\"container\"><a href=\"http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409\"><img src=\"iisstart.png\" alt=\"IIS\" width=\"960\" height=\"600\" /></a></div>\r\n</body>\r\n</html>\r\n";

pub const NGINX_DEFAULT: &str = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and working.</p>\n</body>\n</html>\n";

pub const NGINX_404: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";

/// What the ProxyLogon web shells written through CVE-2021-27065 answer: the exported OAB virtual directory whose
/// `ExternalUrl` held the script (the script itself is replaced by a harmless marker).
pub const OAB_EXPORT: &str = "Name                            : OAB (Default Web Site)\r\nPollInterval                    : 480\r\nOfflineAddressBooks             :\r\nRequireSSL                      : True\r\nBasicAuthentication             : False\r\nWindowsAuthentication           : True\r\nOAuthAuthentication             : False\r\nMetabasePath                    : IIS://EX01.contoso.corp/W3SVC/1/ROOT/OAB\r\nPath                            : C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\OAB\r\nExternalUrl                     : http://f/<lab-web-shell-marker>\r\n";
