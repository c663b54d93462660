// EXH-FILE-0010: Antak, the ASPX web shell of the Nishang PowerShell framework (Nikhil Mittal, 2014). Microsoft's
// HAFNIUM write-up lists Nishang among the tools used after ProxyLogon.
//
// Traits (the public Antak source and its author's post):
//   - the name "Antak" and the Nishang attribution;
//   - each command run by powershell.exe through ProcessStartInfo with "-noninteractive" and
//     "-executionpolicy bypass";
//   - "Encode and Execute": the page deflates and base64-encodes a script and runs it as
//     Invoke-Expression $(New-Object IO.StreamReader ($(New-Object IO.Compression.DeflateStream (… FromBase64String …;
//   - upload (SaveAs) and download (TransmitFile) buttons working on a path typed in the console box.
rule EXH_Nishang_Antak
{
    meta:
        description = "Nishang Antak ASPX web shell: powershell.exe via ProcessStartInfo (-executionpolicy bypass), deflate+base64 Encode and Execute"
        exhunt_rule = "EXH-FILE-0010"

    strings:
        $name = "Antak" fullword
        $nishang = "nishang" nocase
        $ps = "powershell.exe" nocase
        $psi = "ProcessStartInfo"
        $bypass = /-exec(utionpolicy)?\s+bypass/ nocase
        $nonint = "-noninteractive" nocase
        $iex_deflate = /Invoke-Expression\s+\$\(\s*New-Object\s+IO\.StreamReader\s*\(/ nocase
        $deflate = "IO.Compression.DeflateStream" nocase
        $encode_exec = "Encode and Execute"

    condition:
        filesize < 512KB
        and $ps and $psi
        and (
            ($name and ($nishang or $bypass or $encode_exec))
            or ($iex_deflate and $deflate and ($bypass or $nonint))
        )
}
