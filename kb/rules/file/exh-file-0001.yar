// EXH-FILE-0001: the China Chopper server side in ASP.NET pages.
//
// JScript form: eval() of a request value with the "unsafe" option, e.g. the one-liner
//   <%@ Page Language="Jscript"%><%eval(Request.Item["<password>"],"unsafe");%>
// as written by hand, by CVE-2021-27065's OAB export (inside <script runat="server">), or behind a GIF89a header.
// Droppers that split the one-liner into concatenated strings still keep `eval(Request.Item` and `unsafe` within a
// few dozen bytes of each other on one line ($eval_near).
// C# form (HAFNIUM, CISA AR21-084A): a page that opens a StreamWriter on a path from Request.Form and writes another
// Request.Form value into it.
rule EXH_China_Chopper_ASPX
{
    meta:
        description = "China Chopper ASPX server side: eval(Request…, \"unsafe\") or StreamWriter(Request.Form[…]).Write(Request.Form[…])"
        exhunt_rule = "EXH-FILE-0001"

    strings:
        $eval_index = /eval\s*\(\s*Request\s*(\.\s*(Item|Form|QueryString)\s*)?\[[^\]\r\n]{1,100}\]\s*,\s*["']unsafe["']/ nocase
        $eval_call = /eval\s*\(\s*Request\s*\.\s*(Item|Form|QueryString)\s*\(\s*["'][^"'\r\n]{1,100}["']\s*\)\s*,\s*["']unsafe["']/ nocase
        $eval_near = /eval\s*\(\s*Request\s*\.\s*(Item|Form|QueryString)[^\r\n;]{0,60}unsafe/ nocase
        $cs_writer = /new\s+System\.IO\.StreamWriter\s*\(\s*Request\.Form\s*\[[^\]\r\n]{1,100}\]/ nocase
        $cs_write = /\.Write\s*\(\s*Request\.Form\s*\[[^\]\r\n]{1,100}\]\s*\)/ nocase

    condition:
        filesize < 300KB and (any of ($eval_*) or ($cs_writer and $cs_write))
}
