// EXH-FILE-0008: Behinder ("Ice Scorpion", rebeyond) C# server pages.
//
// The default page is one line: the key (first 16 hex characters of md5(password), "e45e329feb5d925b" for the default
// password "rebeyond") is put in the session, the request body is read with Request.BinaryRead(Request.ContentLength),
// decrypted (AES through RijndaelManaged with the key as key and IV, or XOR with k[i + 1 & 15] in v4), loaded with
// Assembly.Load and the payload class "U" is instantiated and handed the page: CreateInstance("U").Equals(this).
// Repacks hide Assembly.Load behind reflection (Type.GetType of "System.Reflection.Assembly" spelled as a byte array,
// GetMethod("Load"), "Lo" + "ad") but keep the class "U", the Equals(this) hand-over, the session key or the body read.
rule EXH_Behinder_Loader
{
    meta:
        description = "Behinder C# web shell loader: Session.Add(\"k\", key) / BinaryRead(ContentLength) → decrypt → Assembly.Load → CreateInstance(\"U\").Equals(this)"
        exhunt_rule = "EXH-FILE-0008"

    strings:
        $load1 = /Assembly\s*\.\s*Load\s*\(/
        $load2 = /GetMethod\s*\(\s*"Load"/
        $load3 = /"Lo"\s*\+\s*"ad"/
        $load4 = /0x53\s*,\s*0x79\s*,\s*0x73\s*,\s*0x74\s*,\s*0x65\s*,\s*0x6d\s*,\s*0x2e\s*,\s*0x52/ nocase
        $class_u = /CreateInstance\s*\(\s*"U"\s*\)/
        $eq_this = /\.Equals\s*\(\s*this\s*\)/
        $session_k = /Session\s*\.\s*Add\s*\(\s*"k"\s*,/
        $session_0 = /Session\s*\[\s*0\s*\]\s*\+\s*""/
        $key_default = "e45e329feb5d925b"
        $body = /Request\s*\.\s*BinaryRead\s*\(\s*(\w+\s*\.\s*)?Request\s*\.\s*ContentLength\s*\)/

    condition:
        filesize < 512KB
        and any of ($load*)
        and (
            ($class_u and ($eq_this or $body or any of ($session_*)))
            or (any of ($session_*) and $body)
            or ($key_default and $body)
        )
}
