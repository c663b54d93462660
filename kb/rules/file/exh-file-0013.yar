// EXH-FILE-0013: XSLT script shells. Microsoft's XSLT processors run <msxsl:script> blocks (JScript, C#, VB) in the
// stylesheet's namespace "urn:schemas-microsoft-com:xslt"; a stylesheet whose script reaches the HTTP context runs
// with the web application's rights whenever a page transforms with it (MITRE T1220). Two shapes:
//   - the stylesheet: the msxsl namespace, a <prefix:script> block, and inside it eval( / Request /
//     HttpContext.Current / Process.Start / Assembly.Load / WScript.Shell (e.g. zcgonvh's JScript
//     eval(Request.Item['a'],'unsafe') in a .xml/.xsl saved as .aspx);
//   - the loader page: an XslCompiledTransform with scripts enabled (new XsltSettings(true, true),
//     XsltSettings.TrustedXslt, EnableScript = true) and a stylesheet that comes from the request.
rule EXH_XSLT_Script_Shell
{
    meta:
        description = "XSLT msxsl:script block that reaches the request/HTTP context, eval, processes or assemblies; or a trusted-XSLT loader fed by the request"
        exhunt_rule = "EXH-FILE-0013"

    strings:
        $ns = "urn:schemas-microsoft-com:xslt" nocase
        $script = /<[A-Za-z0-9_\-]{1,20}:script\b/ nocase
        $d_eval = /eval\s*\(/
        $d_req = /\bRequest\s*[\.\[\(]/
        $d_ctx = "HttpContext.Current"
        $d_proc = /Process\s*\.\s*Start|ProcessStartInfo/
        $d_load = /Assembly\s*\.\s*Load\s*\(/
        $d_wsh = "WScript.Shell" nocase
        $d_write = /File\s*\.\s*(WriteAll|Create|AppendAll)/

        $ldr_xsl = "XslCompiledTransform"
        $ldr_trust = /XsltSettings\s*\(\s*true\s*,\s*true\s*\)|XsltSettings\s*\.\s*TrustedXslt|EnableScript\s*=\s*true/
        $ldr_req = /\bRequest\s*(\.\s*(Form|QueryString|Item|Params|InputStream|Files)\s*)?[\[\(\.]/

    condition:
        filesize < 1MB
        and (
            ($ns and $script and any of ($d_*))
            or ($ldr_xsl and $ldr_trust and $ldr_req)
        )
}
