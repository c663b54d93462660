// EXH-FILE-0002: China Chopper-style JScript pages that hide the one-liner: eval() of a string that is decoded at run
// time instead of written out.
//
// The public traits of these builds (HAFNIUM March 2021 samples as described by signature-base's
// APT_MAL_ASPX_HAFNIUM_Chopper_Mar21_4, and the "GetEncoding(936)" pages circulated since 2013):
//   - a server-side JScript page (`<%@ Page Language="Jscript"%>` or `<script language="JScript" runat="server">`);
//   - eval( applied directly to a decoder: System.Text.Encoding.<X>.GetString(…), Convert.FromBase64String(…),
//     String.fromCharCode(…), unescape(…), decodeURIComponent(…);
//   - or eval( together with GetEncoding(936) (the GBK code page the Chinese builds decode with) and
//     FromBase64String;
//   - or eval( with several char(<n> <op> <m>) arithmetic pieces that rebuild characters one by one;
//   - or the decoded text itself: base64 of `eval(Request` / of `Request.Item[` next to eval and FromBase64String.
// A client-side script never carries the server-side page markers, so packed browser JavaScript (eval(unescape(…)))
// is not matched.
rule EXH_China_Chopper_Obfuscated_JScript
{
    meta:
        description = "Server-side JScript page that evals a string decoded at run time (base64, GBK code page, char arithmetic)"
        exhunt_rule = "EXH-FILE-0002"

    strings:
        $page_js = /<%@[^>]{0,80}Language\s*=\s*["']?J(ava)?Script/ nocase
        $srv_js1 = /<script[^>]{0,80}language\s*=\s*["']?J(ava)?Script[^>]{0,80}runat\s*=\s*["']?server/ nocase
        $srv_js2 = /<script[^>]{0,80}runat\s*=\s*["']?server[^>]{0,80}language\s*=\s*["']?J(ava)?Script/ nocase

        $ev_enc = /eval\s*\(\s*(System\s*\.\s*)?(Text\s*\.\s*)?Encoding\s*\.\s*[A-Za-z0-9_]{1,20}(\s*\(\s*\d{1,5}\s*\))?\s*\.\s*GetString\s*\(/
        $ev_b64 = /eval\s*\(\s*(System\s*\.\s*)?Convert\s*\.\s*FromBase64String\s*\(/
        $ev_js = /eval\s*\(\s*(String\s*\.\s*fromCharCode|unescape|decodeURIComponent|decodeURI)\s*\(/

        $eval = /eval\s*\(/
        $gbk = /GetEncoding\s*\(\s*936\s*\)/
        $frombase64 = "FromBase64String"
        $chr = /char\s*\(\s*(0x[0-9A-Fa-f]{1,6}|\d{1,6})\s*[-+*\/^%]\s*(0x[0-9A-Fa-f]{1,6}|\d{1,6})\s*\)/ nocase

        $b64_eval = "eval(Request" base64
        $b64_item = "Request.Item[" base64

    condition:
        filesize < 512KB
        and not (uint32be(0) == 0x23536F66 and uint32be(4) == 0x74776172)   // "#Software:" (W3C / Exchange log)
        and any of ($page_js, $srv_js1, $srv_js2)
        and (
            any of ($ev_*)
            or ($eval and $gbk and $frombase64)
            or ($eval and #chr >= 3)
            or ($eval and $frombase64 and any of ($b64_*))
        )
}
