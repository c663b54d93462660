// EXH-FILE-0017: catch-all for web shells of unknown families: server-side code that hands request input to an
// evaluator or an execution sink in the same statement.
//
// A server-side marker (page/handler directive, runat=server, IHttpHandler, HttpContext, classic ASP <% … %>) plus
// one of:
//   - JScript/C#: eval(…Request…), JScriptEvaluate(…Request…), Assembly.Load(…Request…), Process.Start(…Request…),
//     PowerShell .AddScript(…Request…), Activator.CreateInstance / Type.GetType / InvokeMember (…Request…) —
//     `Request` as a word, case-sensitive (these languages are), so client script's xmlRequest.responseText does not
//     count;
//   - classic ASP (VBScript, case-insensitive): eval / execute / executeglobal of request(…);
//   - run-time compilation (CompileAssemblyFromSource, CSharpCodeProvider) on a page that reads the request;
//   - a server-side JScript page that reads the request and evals a variable anywhere (the value passed through a
//     variable; client script's eval("literal") does not count).
// Data-binding Eval("Field") does not take request input and does not match. The family rules (EXH-FILE-0001 …
// 0016) report known shells with a family and a higher severity; this rule is the net under them.
rule EXH_Server_Code_Evaluates_Request
{
    meta:
        description = "Server-side code passes request input to eval/execute, JScriptEvaluate, Assembly.Load, Process.Start, AddScript or reflection"
        exhunt_rule = "EXH-FILE-0017"

    strings:
        $srv_dir = "<%@"
        $srv_runat = /runat\s*=\s*["']?server/ nocase
        $srv_handler = "IHttpHandler"
        $srv_ctx = "HttpContext"
        $srv_asp = /<%\s*(eval|execute|executeglobal)\b/ nocase

        $e_js = /\beval\s*\(\s*[^;\r\n]{0,80}\bRequest\s*(\.\s*(Form|QueryString|Item|Params|Headers|Cookies)\s*)?[\[\(\.]/
        $e_vb = /\b(eval|execute|executeglobal)\s*\(?\s*request\s*(\.\s*(form|querystring|item)\s*)?\(/ nocase
        $e_jse = /JScriptEvaluate\s*\(\s*[^;\r\n]{0,120}\bRequest\b/
        $e_load = /Assembly\s*\.\s*Load\s*\(\s*[^;\r\n]{0,120}\bRequest\b/
        $e_proc = /Process\s*\.\s*Start\s*\(\s*[^;\r\n]{0,120}\bRequest\b/
        $e_ps = /\.AddScript\s*\(\s*[^;\r\n]{0,80}\bRequest\b/
        $e_refl = /(Activator\s*\.\s*CreateInstance|Type\s*\.\s*GetType|InvokeMember)\s*\(\s*[^;\r\n]{0,80}\bRequest\b/
        $c_compile = /CompileAssemblyFromSource\s*\(|CSharpCodeProvider|VBCodeProvider|JScriptCodeProvider/
        $js_page = /<%@[^>]{0,80}Language\s*=\s*["']?J(ava)?Script/ nocase
        $js_eval = /\beval\s*\(\s*[A-Za-z_$][A-Za-z0-9_$]{0,30}\s*[,)]/
        $req = /\bRequest\s*(\.\s*(Form|QueryString|Item|Params|Headers|Cookies|InputStream)\s*)?[\[\(\.]/

    condition:
        filesize < 2MB
        and not (uint32be(0) == 0x23536F66 and uint32be(4) == 0x74776172)   // "#Software:" (W3C / Exchange log)
        and any of ($srv_*)
        and (
            any of ($e_*)
            or ($c_compile and $req)
            or ($js_page and $js_eval and $req)
        )
}
