// EXH-FILE-0003: the China Chopper "customize" server: the C# (or VB) implementation of the Chopper protocol that the
// client talks to when the operator picks the "customize" server type. It is shipped as an .ashx handler, an .asmx
// or .soap web service, an .aspx page, or a C# class compiled into App_Code/bin and registered as an IHttpHandler or
// IHttpModule.
//
// Protocol traits (Mandiant's China Chopper analysis; the public customize sources):
//   - the action letter comes in one form field and its arguments in fields named Z1, Z2 (Request.Form["Z1"]);
//   - a switch over single upper-case letters, case "A" (drives and web root) … case "Q" (SQL), file, command and
//     database operations;
//   - every answer is framed by "->|" and "|<-", often written hex-escaped ("\x2D\x3E\x7C", "\x7C\x3C\x2D");
//   - errors are returned as "ERROR:// " + message.
rule EXH_China_Chopper_Customize
{
    meta:
        description = "China Chopper customize server (ASHX/ASMX/SOAP/ASPX or C# handler): Z1/Z2 fields, case \"A\"…\"Q\", ->| |<- framing"
        exhunt_rule = "EXH-FILE-0003"

    strings:
        $open = "\"->|\""
        $close = "\"|<-\""
        $open_hex = "\\x2D\\x3E\\x7C" nocase
        $close_hex = "\\x7C\\x3C\\x2D" nocase
        $open_cat = /["']->\|["']\s*\+/
        $close_cat = /\+\s*["']\|<-["']/
        $z = /(Form|Request|QueryString|Params)\s*(\.\s*Get\s*\(|\[|\()\s*"Z[0-9]"/ nocase
        $case = /case\s+"[A-Q]"\s*:/
        $err = "\"ERROR:// \""

    condition:
        filesize < 1MB
        and (
            (any of ($open, $open_hex, $open_cat) and any of ($close, $close_hex, $close_cat) and ($z or #case >= 8))
            or (#z >= 2 and #case >= 10)
            or ($err and #case >= 10 and $z)
        )
}
