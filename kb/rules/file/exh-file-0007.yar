// EXH-FILE-0007: Godzilla (BeichenDream) C# server pages: ASPX, ASHX and ASMX, AES or XOR, base64 or raw.
//
// The generated page is a small loader: it decrypts the request (AES via RijndaelManaged with the key as key and IV,
// or XOR with the key), loads the first request's plaintext as a .NET assembly and keeps it in the session, then on
// every later request instantiates the payload class and hands it the context and the data. Traits:
//   - the assembly stored under Session["payload"] (Context.Session / HttpContext.Current.Session);
//   - the payload class created as CreateInstance("LY") and fed through o.Equals(Context), o.Equals(data);
//   - the answer framed by the first and the last 16 characters of md5(pass + key): md5.Substring(0, 16) …
//     md5.Substring(16);
//   - the load itself, often through reflection to avoid the text "Assembly.Load":
//     typeof(System.Reflection.Assembly).GetMethod("Load", new System.Type[] { typeof(byte[]) }).Invoke(…).
rule EXH_Godzilla_Loader
{
    meta:
        description = "Godzilla C# web shell loader: assembly from the decrypted request kept in Session[\"payload\"], CreateInstance(\"LY\"), md5 framing"
        exhunt_rule = "EXH-FILE-0007"

    strings:
        $load1 = /Assembly\s*\.\s*Load\s*\(/
        $load2 = /GetMethod\s*\(\s*"Load"/
        $load3 = /typeof\s*\(\s*(System\s*\.\s*Reflection\s*\.\s*)?Assembly\s*\)/
        $session_payload = /Session\s*\[\s*"payload"\s*\]/ nocase
        $class_ly = /CreateInstance\s*\(\s*"LY"\s*\)/
        $md5_head = /\.Substring\s*\(\s*0\s*,\s*16\s*\)/
        $md5_tail = /\.Substring\s*\(\s*16\s*\)/
        $eq_ctx = /\.Equals\s*\(\s*(Context|HttpContext\.Current)\s*\)/
        $eq_data = /\.Equals\s*\(\s*data\s*\)/
        $crypt_aes1 = "CreateDecryptor"
        $crypt_aes2 = "TransformFinalBlock"
        $crypt_xor1 = "+ 1 & 15]"
        $crypt_xor2 = "+1&15]"

    condition:
        filesize < 512KB
        and any of ($load*)
        and (
            ($session_payload and (any of ($crypt_*) or $class_ly or $eq_ctx))
            or $class_ly
            or ($md5_head and $md5_tail and any of ($crypt_*) and ($eq_ctx or $eq_data))
        )
}
