// EXH-FILE-0005: reGeorg (SensePost), the HTTP-to-SOCKS tunnel whose server side is one ASPX/ASHX page. Volexity
// found a reGeorg variant among the March 2021 Exchange web shells.
//
// Traits (the public reGeorg sources and Volexity's write-up):
//   - a socket opened on the server (System.Net.Sockets, new Socket(…)) and kept in Session/Application between
//     requests;
//   - the tunnel verbs "CONNECT", "DISCONNECT", "FORWARD", "READ" (as command values);
//   - the control headers X-CMD, X-TARGET, X-PORT, X-STATUS, X-ERROR (reGeorg keeps their names; Neo-reGeorg
//     replaces them with random names and has its own rule, EXH-FILE-0006);
//   - the greeting "Georg says, 'All seems fine'".
rule EXH_reGeorg_Tunnel
{
    meta:
        description = "reGeorg SOCKS tunnel server page: socket + CONNECT/FORWARD/READ/DISCONNECT + X-STATUS/X-CMD headers or the Georg greeting"
        exhunt_rule = "EXH-FILE-0005"

    strings:
        $hello = "Georg says, 'All seems fine'"
        $neo_hello = "NeoGeorg says"
        $h_status = "\"X-STATUS\""
        $h_cmd = "\"X-CMD\""
        $h_target = "\"X-TARGET\""
        $h_error = "\"X-ERROR\""
        $h_port = "\"X-PORT\""
        $v_connect = "\"CONNECT\""
        $v_disconnect = "\"DISCONNECT\""
        $v_forward = "\"FORWARD\""
        $v_read = "\"READ\""
        $sock1 = "System.Net.Sockets"
        $sock2 = /new\s+(System\.Net\.Sockets\.)?Socket\s*\(/

    condition:
        filesize < 512KB
        and any of ($sock*)
        and (
            ($hello and #hello > #neo_hello and 2 of ($v_*))
            or (2 of ($h_*) and 3 of ($v_*))
        )
}
