// EXH-FILE-0011: command shells in server pages: ASP.NET (C#/VB) and classic ASP pages or handlers that start a
// process whose program or command line comes from the request or from a text box on the page.
//
// The shape shared by cmd.aspx / cmdasp.aspx / cmdexec.aspx / "ASPX Shell" / the ASHX executors / classic cmd.asp
// and the command part of SPORTSBALL (public sources; CERT.LV and NSA keyword lists name the same calls):
//   - a server-side marker (page or handler directive, runat=server, IHttpHandler, HttpContext, classic ASP
//     <% … CreateObject(…));
//   - a process API: ProcessStartInfo, Process.Start(…), new Process(), StartInfo.FileName, WScript.Shell,
//     Shell.Application;
//   - and input reaching it: the program itself from Request or a control's .Text/.Value (FileName = …,
//     ProcessStartInfo(…), Process.Start(…)); a command line built by concatenation ("/c " + x, "cmd.exe /c " & x);
//     Arguments from input when the page names cmd or PowerShell; WScript .Exec/.Run of a request value; or commands
//     written to the process's standard input on a page that reads the request and names cmd or PowerShell.
//   A page that runs one fixed, non-shell program with a typed argument (a ping or nslookup tool) does not match.
rule EXH_Command_Shell_Page
{
    meta:
        description = "Server page/handler that runs cmd/PowerShell or any program with request- or textbox-supplied input"
        exhunt_rule = "EXH-FILE-0011"

    strings:
        $srv_dir = "<%@"
        $srv_runat = /runat\s*=\s*["']?server/ nocase
        $srv_handler = "IHttpHandler"
        $srv_ctx = "HttpContext"
        $srv_asp = /<%[^%]{0,200}CreateObject\s*\(/ nocase

        $proc_psi = "ProcessStartInfo"
        $proc_start = /Process\s*\.\s*Start\s*\(/
        $proc_new = /new\s+(System\s*\.\s*Diagnostics\s*\.\s*)?Process\s*\(\s*\)/ nocase
        $proc_fn = /StartInfo\s*\.\s*FileName/ nocase
        $proc_wsh = /CreateObject\s*\(\s*"WScript\.Shell"\s*\)/ nocase
        $proc_shapp = /CreateObject\s*\(\s*"Shell\.Application"\s*\)/ nocase

        $t_args = /Arguments\s*=\s*[^;\r\n]{0,80}(\bRequest\b|\.Text\b|\.Value\b)/ nocase
        $t_psi = /ProcessStartInfo\s*\(\s*[^,;:)\r\n]{0,60}(\bRequest\b|\.Text\b|\.Value\b)/ nocase
        $t_fn = /\.\s*FileName\s*=\s*[^,;:\r\n]{0,60}(\bRequest\b|\.Text\b|\.Value\b)/ nocase
        $t_start = /Process\s*\.\s*Start\s*\(\s*[^,;:)\r\n]{0,60}(\bRequest\b|\.Text\b|\.Value\b)/ nocase
        $t_concat1 = /\/c ["']\s*(\+|&)/ nocase
        $t_concat2 = /\/c["']\s*(\+|&)/ nocase
        $t_wsh = /\.(Exec|Run|ShellExecute)\s*\(?\s*[^;\r\n]{0,80}\bRequest\s*[\(\.\[]/ nocase
        $t_stdin = /StandardInput\s*\.\s*Write(Line)?\s*\(/ nocase

        $i_cmd1 = "cmd.exe" nocase
        $i_cmd2 = "\"cmd\"" nocase
        $i_ps = /powershell(\.exe)?["']/ nocase
        $req = /\bRequest\s*(\.\s*(Form|QueryString|Params|Item|Headers|Cookies)\s*)?[\[\(]/ nocase

    condition:
        filesize < 1MB
        and not (uint32be(0) == 0x23536F66 and uint32be(4) == 0x74776172)   // "#Software:" (W3C / Exchange log)
        and any of ($srv_*)
        and any of ($proc_*)
        and (
            any of ($t_psi, $t_fn, $t_start, $t_concat*, $t_wsh)
            or ($t_args and any of ($i_*))
            or ($t_stdin and any of ($i_*) and $req)
        )
}
