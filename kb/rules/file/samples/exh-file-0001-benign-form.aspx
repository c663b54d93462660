<%@ Page Language="C#" %>
<%-- exhunt negative sample for EXH-FILE-0001: an ordinary form page that reads Request.Form and uses Eval. --%>
<script runat="server">
    protected void Page_Load(object sender, EventArgs e)
    {
        if (IsPostBack)
        {
            Greeting.Text = Server.HtmlEncode(Request.Form["name"]);
            using (var log = new System.IO.StreamWriter(Server.MapPath("~/App_Data/visits.log"), true))
            {
                log.WriteLine(DateTime.UtcNow.ToString("o"));
            }
        }
    }
</script>
<html>
<body>
    <form runat="server">
        <input name="name" />
        <asp:Label ID="Greeting" runat="server" />
        <asp:Repeater ID="Items" runat="server">
            <ItemTemplate><%# Eval("Title") %> <%# DataBinder.Eval(Container.DataItem, "Price") %></ItemTemplate>
        </asp:Repeater>
    </form>
    <script>var total = eval("1 + 1");</script>
</body>
</html>
