// EXH-FILE-0001: the China Chopper server side in its plain forms.
//
// JScript form: eval() of a request value with the "unsafe" option, e.g. the one-liner
//   <%@ Page Language="Jscript"%><%eval(Request.Item["<password>"],"unsafe");%>
// as written by hand, by CVE-2021-27065's OAB export (inside <script runat="server">), behind a GIF89a header, in an
// XSLT msxsl:script block, or by a dropper. The traits, from the public write-ups (Mandiant's "Breaking Down the
// China Chopper Web Shell", CISA AR21-084A, Microsoft's HAFNIUM post):
//   - eval(<request value>, "unsafe"): JScript.NET's eval only reaches the .NET class library with "unsafe", and the
//     request value may be reached as Request[..], Request.Item[..], Request.Form(..), HttpContext.Current.Request…;
//   - the "unsafe" option with any of its letters hex- or unicode-escaped ("\x75\x6e…", "\u0075…"), which
//     JScript string literals allow (spelled out letter by letter: a character class of hex digits here would make
//     the compiler enumerate thousands of atoms);
//   - eval(<any expression>, "unsafe") where the expression is a variable or a string-table lookup
//     (javascript-obfuscator output, `eval(Request[_0x3f2a[0]], _0x3f2a[1])` keeps `eval(Request[`);
//   - the page saved as UTF-16 (ASP.NET reads it through its byte-order mark): $eval_index and $eval_expr are also
//     matched `wide`;
//   - droppers that split the one-liner into concatenated strings still keep `eval(Request.Item` and `unsafe` within a
//     few dozen bytes on one line ($eval_near); droppers that carry it base64-encoded keep the encoded text of
//     `eval(Request` and of the quoted `unsafe` ($b64_*: every alignment).
// C#/VB one-liners: the same JScript engine called from C# or VB through Microsoft.JScript.Eval.JScriptEvaluate(
//   <request value>, "unsafe", VsaEngine.CreateEngine()).
// A tiny JScript page (< 2 KB) that reads a request value and evals a variable (the "Tiny WebShell" form, whose
//   eval argument is a variable and carries no "unsafe"); client script's eval("literal") does not count.
// Droppers writing the one-liner inside a C# or VB string keep it with backslash-escaped or doubled quotes.
// Classic ASP form (VBScript; the China Chopper ASP server): <%eval request("x")%>, <%execute request("x")%>,
//   Execute(Request("x")) anywhere in the page.
// C# form (HAFNIUM, CISA AR21-084A): a page that opens a StreamWriter on a path from Request.Form and writes another
// Request.Form value into it.
//
// W3C and Exchange logs (first line `#Software: Microsoft…`) are left out: a logged exploitation request carries the
// one-liner but is not a shell (the log rules report it).
rule EXH_China_Chopper_ASPX
{
    meta:
        description = "China Chopper server side: eval/JScriptEvaluate(Request…, \"unsafe\"), classic ASP eval/execute request(…), or StreamWriter(Request.Form[…]).Write(Request.Form[…])"
        exhunt_rule = "EXH-FILE-0001"

    strings:
        $eval_index = /eval\s*\(\s*((HttpContext\.Current|Context|this|Page)\s*\.\s*)?Request\s*(\.\s*(Item|Form|QueryString|Params)\s*)?\[[^\]\r\n]{1,100}\]\s*,\s*(\\?["']){1,2}unsafe/ ascii wide nocase
        $eval_call = /eval\s*\(\s*((HttpContext\.Current|Context|this|Page)\s*\.\s*)?Request\s*\.\s*(Item|Form|QueryString|Params)\s*(\.\s*Get\s*)?\(\s*(\\?["']){1,2}[^"'\r\n]{1,100}(\\?["']){1,2}\s*\)\s*,\s*(\\?["']){1,2}unsafe/ nocase
        $eval_near = /eval\s*\(\s*Request\s*\.\s*(Item|Form|QueryString|Params)[^\r\n;]{0,60}unsafe/ nocase
        $eval_esc = /eval\s*\(\s*Request[^;\r\n]{1,120},\s*["'](u|\\x75|\\u0075)(n|\\x6e|\\u006e)(s|\\x73|\\u0073)(a|\\x61|\\u0061)(f|\\x66|\\u0066)(e|\\x65|\\u0065)["']/ nocase
        $eval_expr = /eval\s*\([^;\r\n]{1,160},\s*(\\?["']){1,2}unsafe(\\?["']){1,2}\s*\)/ ascii wide
        $eval_table = /eval\s*\(\s*Request\s*(\.\s*Item\s*)?\[\s*_0x[0-9a-f]{2,8}/
        $jse_unsafe = /JScriptEvaluate\s*\([^;\r\n]{1,160},\s*(\\?["']){1,2}unsafe/
        $jse_req = /JScriptEvaluate\s*\(\s*((HttpContext\.Current|Context|this|Page)\s*\.\s*)?Request\s*[\.\[\(]/
        $asp_eval = /<%\s*(eval|execute|executeglobal)\s*\(?\s*request\s*(\.\s*(item|form|querystring)\s*)?\(/ nocase
        $asp_exec = /\b(execute|executeglobal)\s*\(?\s*request\s*(\.\s*(item|form|querystring)\s*)?\(\s*["']/ nocase
        $b64_eval = "eval(Request" base64
        $b64_unsafe1 = "\"unsafe\")" base64
        $b64_unsafe2 = "'unsafe')" base64
        $cs_writer = /new\s+System\.IO\.StreamWriter\s*\(\s*Request\.Form\s*\[[^\]\r\n]{1,100}\]/ nocase
        $cs_write = /\.Write\s*\(\s*Request\.Form\s*\[[^\]\r\n]{1,100}\]\s*\)/ nocase
        $tiny_page = /<%@\s*Page[^>]{0,60}Language\s*=\s*["']?JScript/ nocase
        $tiny_req = /Request\s*(\.\s*(Item|Form|QueryString|Params)\s*)?[\[\(]/
        $tiny_eval = /\beval\s*\(\s*[A-Za-z_$][A-Za-z0-9_$]{0,30}\s*[,)]/

    condition:
        filesize < 1MB
        and not (uint32be(0) == 0x23536F66 and uint32be(4) == 0x74776172)   // "#Software:" (W3C / Exchange log)
        and (
            any of ($eval_*)
            or any of ($jse_*)
            or any of ($asp_*)
            or ($b64_eval and any of ($b64_unsafe*))
            or ($cs_writer and $cs_write)
            or (filesize < 2KB and $tiny_page and $tiny_req and $tiny_eval)
        )
}
