// EXH-FILE-0009: server-side code that loads a .NET assembly from the bytes of the request and runs it — the core of
// Godzilla, Behinder and their many repacks (and of hand-written loaders), for builds that drop every family string.
//
// Shape: request bytes (Request.BinaryRead, Request.InputStream, Convert.FromBase64String(Request[…]), a posted
// file's InputStream) → optional decryption → Assembly.Load(byte[]) (directly or through reflection:
// GetMethod("Load"), typeof(Assembly)) → CreateInstance / Invoke / EntryPoint of the loaded code. A legitimate page
// loads assemblies by name or from its own bin folder, not from what a client sent.
rule EXH_Request_Assembly_Loader
{
    meta:
        description = "Assembly loaded from request bytes and instantiated or invoked (in-memory web shell loader)"
        exhunt_rule = "EXH-FILE-0009"

    strings:
        $load1 = /Assembly\s*\.\s*Load\s*\(/
        $load2 = /GetMethod\s*\(\s*"Load"/
        $load3 = /typeof\s*\(\s*(System\s*\.\s*Reflection\s*\.\s*)?Assembly\s*\)\s*\.\s*GetMethod/
        $req_bin = /Request\s*\.\s*BinaryRead\s*\(/
        $req_in = /Request\s*\.\s*InputStream/
        $req_file = /Files\s*\[[^\]\r\n]{1,40}\]\s*\.\s*InputStream/
        $req_b64 = /FromBase64String\s*\(\s*((HttpContext\s*\.\s*Current|Context|this|Page)\s*\.\s*)?Request\s*(\.\s*(Form|QueryString|Item|Params|Headers|Cookies)\s*)?(\[|\(|\.\s*Get\s*\()/
        $run1 = /CreateInstance\s*\(/
        $run2 = /\.Invoke\s*\(/
        $run3 = /\.EntryPoint\b/
        $direct = /Assembly\s*\.\s*Load\s*\(\s*(Request\s*\.\s*BinaryRead|Convert\s*\.\s*FromBase64String\s*\(\s*Request)/

    condition:
        filesize < 1MB
        and (
            $direct
            or (any of ($load*) and any of ($req_*) and any of ($run*))
        )
}
