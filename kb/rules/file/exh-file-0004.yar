// EXH-FILE-0004: ASPXSpy, the full-featured C# web shell by "Bin" (2006-2009, www.rootkit.net.cn) and its many
// repacks (ASPXSpy2, the net-friend copy, DCVI.NET, NightRunner …). Used by Threat Group-3390 and others, and
// found on Exchange servers after ProxyLogon.
//
// Traits that survive repacking (the builds differ in layout, control ids and password hash):
//   - the name "ASPXSpy" or the author's site "rootkit.net.cn" (often kept in the footer or a confirm() text);
//   - the author's control-id scheme: dozens of ids and functions named Bin_<Something> (Bin_PostBack,
//     Bin_Button_*, Bin_*Panel, bin_cmd …);
//   - its feature set, which few other pages combine: Serv-U local privilege escalation ("-SETUSERSETUP",
//     "LocalAdministrator", the Serv-U admin port 43958), "IISSpy" (IIS metabase walk through IIS://localhost/W3SVC),
//     SQL Server abuse (xp_cmdshell, sp_oacreate, xp_regread / xp_dirtree), a port scanner, and the login check
//     through FormsAuthentication.HashPasswordForStoringInConfigFile(…, "MD5").
rule EXH_ASPXSpy
{
    meta:
        description = "ASPXSpy C# web shell (any build): name/author strings, Bin_* control scheme, Serv-U/IISSpy/xp_cmdshell feature set"
        exhunt_rule = "EXH-FILE-0004"

    strings:
        $id_name = "ASPXSpy" nocase
        $id_site = "rootkit.net.cn" nocase
        $bin = "Bin_"

        $f_servu1 = "-SETUSERSETUP" nocase
        $f_servu2 = "LocalAdministrator" nocase
        $f_servu3 = "43958"
        $f_iisspy = "IISSpy" nocase
        $f_metabase = "IIS://localhost/W3SVC" nocase
        $f_xpcmd = "xp_cmdshell" nocase
        $f_oacreate = "sp_oacreate" nocase
        $f_xpreg = /xp_(regread|dirtree)/ nocase
        $f_portscan = /Port\s?Scan/ nocase
        $f_md5 = "HashPasswordForStoringInConfigFile" nocase
        $f_wscript = "WScript.Shell" nocase

    condition:
        filesize < 2MB
        and (
            (any of ($id_*) and 2 of ($f_*))
            or (#bin >= 10 and 3 of ($f_*))
            or 7 of ($f_*)
        )
}
