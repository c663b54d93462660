// EXH-FILE-0016: web shells compiled by ASP.NET. When a page is first requested, ASP.NET compiles it into an
// App_Web_<random>.dll under "Temporary ASP.NET Files"; that DLL outlives the page (attackers and AV delete the .aspx,
// the DLL stays), so Microsoft's guidance and the BSI/MSTIC rules scan it too.
//
// Shape: a PE file (MZ, PE signature at e_lfanew) with .NET metadata (the "BSJB" metadata root), named or built as
// App_Web_* or compiled from a page under ~/aspnet_client/, ~/auth/ (owa/ecp), ~/owa/, ~/ecp/ or ~/oab/, plus
// the compiled form of a web shell. Member names are ASCII in the #Strings heap; string literals are UTF-16 in the
// #US heap:
//   - China Chopper (JScript eval): Microsoft.JScript's JScriptEvaluate with the literal "unsafe";
//   - loaders: CreateDecryptor/TransformFinalBlock + CreateInstance + BinaryRead or FromBase64String;
//   - from a drop folder only (a legitimate application can upload or start processes): upload (get_Files + SaveAs
//     + get_Request), command execution (ProcessStartInfo + set_FileName + cmd.exe/powershell + redirected output),
//     the C# Chopper writer (StreamWriter + get_Form).
rule EXH_Compiled_AppWeb_Webshell
{
    meta:
        description = "App_Web_*.dll (compiled ASP.NET page) holding a web shell: JScript eval \"unsafe\", request-fed loader, or upload/cmd from a drop folder"
        exhunt_rule = "EXH-FILE-0016"

    strings:
        $bsjb = "BSJB"
        $appweb = "App_Web_" ascii wide
        $vpath = /~\/(aspnet_client|auth|owa|ecp|oab)\//  ascii wide nocase
        $vclass = /aspnet_client_[A-Za-z0-9_]{1,60}_as[hmp]x/ nocase

        $js_eval = "JScriptEvaluate"
        $js_unsafe = "unsafe" wide

        $l_decr = "CreateDecryptor"
        $l_tfb = "TransformFinalBlock"
        $l_inst = "CreateInstance"
        $l_bin = "BinaryRead"
        $l_b64 = "FromBase64String"

        $m_req = "get_Request"
        $m_files = "get_Files"
        $m_saveas = "SaveAs"
        $m_psi = "ProcessStartInfo"
        $m_fn = "set_FileName"
        $m_redir = "set_RedirectStandardOutput"
        $w_cmd = "cmd.exe" wide nocase
        $w_ps = "powershell" wide nocase
        $m_writer = "StreamWriter"
        $m_form = "get_Form"

    condition:
        uint16(0) == 0x5A4D
        and filesize < 4MB
        and uint32(uint32(0x3C)) == 0x00004550
        and $bsjb
        and any of ($appweb, $vpath, $vclass)
        and (
            ($js_eval and $js_unsafe)
            or ($l_decr and $l_tfb and $l_inst and ($l_bin or $l_b64))
            or (any of ($vpath, $vclass) and (
                ($m_files and $m_saveas and $m_req)
                or ($m_psi and $m_fn and ($w_cmd or $w_ps) and $m_redir)
                or ($m_writer and $m_form and $m_req)
            ))
        )
}
