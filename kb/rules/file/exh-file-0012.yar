// EXH-FILE-0012: file-upload back doors: server pages whose purpose is to write a file the client sends to a place
// the client chooses (or under the client's own file name), so that the next shell can be planted.
//
// Traits (HAFNIUM's upload pages as described by Volexity — SIMPLESEESHARP — and Microsoft; the public
// asp.net-backdoors and Chopper upload pages):
//   - a request file: Request.Files[…], HttpPostedFile, a FileUpload control's PostedFile, <asp:FileUpload>;
//   - saved with .SaveAs(…) to a path built from Request, a text box (.Text/.Value) or Request.PhysicalPath;
//   - or, in a small page (< 4 KB), saved under the client-supplied .FileName, or (< 2 KB) Request.Files[…] saved
//     straight to Server.MapPath(…)/Path.Combine(…) (the one-line HAFNIUM uploaders);
//   - or the posted bytes copied with FileStream / File.WriteAllBytes to a client-named path;
//   - classic ASP: Request.BinaryRead + ADODB.Stream .SaveToFile to a request-supplied path.
// A form with a file input that never saves anything, or an application that saves uploads under names it makes
// itself, does not match.
rule EXH_File_Upload_Backdoor
{
    meta:
        description = "Upload back door: request file saved to a request-chosen path or under the client's file name"
        exhunt_rule = "EXH-FILE-0012"

    strings:
        $srv_dir = "<%@"
        $srv_runat = /runat\s*=\s*["']?server/ nocase
        $srv_handler = "IHttpHandler"
        $srv_ctx = "HttpContext"

        $f_files = /Request\s*\.\s*Files\s*[\[\(]/ nocase
        $f_posted = "HttpPostedFile"
        $f_postedfile = /\.\s*PostedFile\b/
        $f_ctrl = /<asp:FileUpload/ nocase

        $s_taint = /\.SaveAs\s*\(\s*[^;\r\n]{0,160}(\bRequest\b|\.Text\b|\.Value\b|PhysicalPath)/ nocase
        $s_name = /\.SaveAs\s*\(\s*[^;\r\n]{0,160}\.FileName\b/ nocase
        $s_bare = /Files\s*[\[\(]\s*[^\]\)\r\n]{1,20}[\]\)]\s*\.\s*SaveAs\s*\(\s*(Server\s*\.\s*MapPath|Path\s*\.\s*Combine)\s*\(/ nocase
        $w_stream = /new\s+(System\s*\.\s*IO\s*\.\s*)?FileStream\s*\(\s*[^;\r\n]{0,200}(\.FileName\b|\bRequest\b|\.Text\b)/ nocase
        $w_all = /File\s*\.\s*WriteAllBytes\s*\(\s*[^;\r\n]{0,200}(\.FileName\b|\bRequest\b|\.Text\b)/ nocase
        $w_read = /\.InputStream\s*\.\s*(Read|CopyTo)\s*\(/ nocase

        $asp_stream = /CreateObject\s*\(\s*"ADODB\.Stream"\s*\)/ nocase
        $asp_read = /Request\s*\.\s*BinaryRead\s*\(/ nocase
        $asp_save = /\.SaveToFile\s*\(?\s*[^\r\n]{0,120}\bRequest\b/ nocase

    condition:
        filesize < 1MB
        and (
            (any of ($srv_*) and any of ($f_*) and (
                $s_taint
                or ($s_name and filesize < 4KB)
                or ($s_bare and filesize < 2KB)
                or (any of ($w_stream, $w_all) and $w_read)
            ))
            or (all of ($asp_*))
        )
}
