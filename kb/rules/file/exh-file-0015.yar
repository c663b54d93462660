// EXH-FILE-0015: web.config files that turn the configuration itself, or harmless-looking file types, into server
// code (Soroush Dalili, "Upload a web.config File for Fun & Profit", 2014; CERT.LV's aspnet_client web.config check).
// A web.config dropped in an upload or aspnet_client folder can:
//   - map *.config (or web.config) to a script engine — asp.dll, aspnet_isapi.dll, PageHandlerFactory,
//     SimpleHandlerFactory — in <handlers> / <httpHandlers>, and un-hide it from request filtering
//     (<remove fileExtension=".config" />, <remove segment="web.config" />), so that code in its own comments runs;
//   - map an image/text extension (*.jpg, *.txt, *.png …) to a script engine, or register a build provider
//     (PageBuildProvider, WebHandlerBuildProvider …) for such an extension, so that an uploaded "image" runs;
//   - carry the code itself: a <% … %> block opening with code (Response, Request, CreateObject, eval, Execute,
//     Set/Dim/Function/Sub/If/Call, a Page directive), or a <script runat="server"> block.
// "Same element" is a run without < or > between the path/extension and the engine. Exchange's own
// applicationHost.config maps *.asp, *.aspx, *.ashx, *.xml (Autodiscover) … to their engines and
// denies .config / web.config; none of that matches.
rule EXH_WebConfig_Handler_Abuse
{
    meta:
        description = "web.config mapping .config or image/text extensions to a script engine, un-hiding web.config, or holding server code"
        exhunt_rule = "EXH-FILE-0015"

    strings:
        $cfg = "<configuration" nocase
        $h_cfg = /path\s*=\s*["'](\*\.config|\*\.\*config|web\.config)["']/ nocase
        $h_ext1 = /path\s*=\s*["']\*\.(txt|jpe?g|png|gif|bmp|ico|css|log|js|pdf|dat|tmp|rar|zip)["'][^<>]{0,240}(asp\.dll|aspnet_isapi\.dll|PageHandlerFactory|SimpleHandlerFactory|WebServiceHandlerFactory)/ nocase
        $h_ext2 = /(asp\.dll|aspnet_isapi\.dll|PageHandlerFactory|SimpleHandlerFactory|WebServiceHandlerFactory)[^<>]{0,240}path\s*=\s*["']\*\.(txt|jpe?g|png|gif|bmp|ico|css|log|js|pdf|dat|tmp|rar|zip)["']/ nocase
        $bp1 = /extension\s*=\s*["']\.(config|txt|jpe?g|png|gif|bmp|ico|css|log|js|pdf|dat|tmp)["'][^<>]{0,240}(PageBuildProvider|WebHandlerBuildProvider|WebServiceBuildProvider|CodeBuildProvider|UserControlBuildProvider)/ nocase
        $bp2 = /(PageBuildProvider|WebHandlerBuildProvider|WebServiceBuildProvider|CodeBuildProvider|UserControlBuildProvider)[^<>]{0,240}extension\s*=\s*["']\.(config|txt|jpe?g|png|gif|bmp|ico|css|log|js|pdf|dat|tmp)["']/ nocase
        $unhide_ext = /<remove\s+fileExtension\s*=\s*["']\.config["']/ nocase
        $unhide_seg = /<remove\s+segment\s*=\s*["']web\.config["']/ nocase
        $code = /<%\s{0,40}(Response|Request|CreateObject|eval|execute|Set\s|Dim\s|Function\s|Sub\s|If\s|Call\s|@\s*Page)/ nocase
        $script = /<script[^>]{0,120}runat\s*=\s*["']?server/ nocase

    condition:
        filesize < 1MB
        and $cfg
        and (
            $h_cfg or $h_ext1 or $h_ext2 or $bp1 or $bp2
            or ($unhide_ext and $unhide_seg)
            or $code or $script
        )
}
