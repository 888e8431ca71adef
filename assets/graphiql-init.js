// Starts GraphiQL against this server: queries over HTTP, subscriptions over WebSocket.
(function () {
  var wsScheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  var fetcher = GraphiQL.createFetcher({
    url: window.location.origin + '/graphql',
    subscriptionUrl: wsScheme + window.location.host + '/graphql/ws',
  });
  var example = JSON.parse(document.getElementById('example-query').textContent);
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: example,
      defaultEditorToolsVisibility: true,
    })
  );
})();
