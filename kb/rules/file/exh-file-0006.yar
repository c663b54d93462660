// EXH-FILE-0006: Neo-reGeorg (L-codes), the successor of reGeorg, in its template and its generated form.
//
// `neoreg.py generate -k <key>` fills the template: it shuffles the 64 base64 characters with a generator seeded
// from the key and writes the shuffled table into the page, so every traffic byte is base64 translated through a
// per-key table; it also replaces the greeting with an encoded string and (in old versions) the X- header names
// with random words. So the generated page has no fixed greeting, key or header to match, but its structure stays:
//   - the standard alphabet "ABC…xyz0123456789+/" as a string literal followed within a statement by a second
//     64-character literal made of the same characters (the per-key table), or the placeholders "BASE64 CHARSLIST" /
//     "BASE64 ARRAYLIST" / "NeoGeorg says, 'All seems fine'" in the template;
//   - a StrTr(…) translation between the two tables, Convert.FromBase64String, and (v3+) the blv_decode /
//     blv_encode framing, whose names the generator keeps;
//   - a server-side socket; the header-driven builds decode FromBase64String(StrTr(Request.Headers.Get(…)))
//     (the "variation on reGeorg" Volexity found on Exchange servers in March 2021).
rule EXH_Neo_reGeorg_Tunnel
{
    meta:
        description = "Neo-reGeorg tunnel (template or generated): base64 table pair + StrTr/blv framing + socket"
        exhunt_rule = "EXH-FILE-0006"

    strings:
        $tpl_chars = "BASE64 CHARSLIST"
        $tpl_array = "BASE64 ARRAYLIST"
        $tpl_hello = "NeoGeorg says, 'All seems fine'"
        $table_after = /ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\+\/["'][^"']{1,80}["'][A-Za-z0-9+\/]{64}["']/
        $strtr = /StrTr\s*\(/
        $blv_dec = "blv_decode"
        $blv_enc = "blv_encode"
        $hdr_b64 = /FromBase64String\s*\(\s*StrTr\s*\(\s*(context\s*\.\s*)?Request\s*\.\s*Headers\s*\.\s*Get\s*\(/ nocase
        $b64 = "FromBase64String"
        $sock1 = "System.Net.Sockets"
        $sock2 = /new\s+(System\.Net\.Sockets\.)?Socket\s*\(/

    condition:
        filesize < 512KB
        and (
            (any of ($tpl_*) and ($strtr or any of ($blv_*)))
            or ($table_after and ($strtr or any of ($blv_*)) and $b64)
            or (all of ($blv_*) and $strtr and any of ($sock*))
            or ($hdr_b64 and any of ($sock*))
        )
}
