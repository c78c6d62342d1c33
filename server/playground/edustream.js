// Starts GraphiQL against this server's /query (same origin, so no CORS),
// with subscriptions over graphql-transport-ws on the same path.
//
// A token can be handed over in the link, as /#token=<jwt> (preferred: the
// fragment never leaves the browser) or /?token=<jwt>; it prefills the
// headers editor with {"Authorization": "Bearer <jwt>"}. GraphiQL passes
// those headers both on HTTP requests and in the websocket connection_init
// payload, which is where the server looks for them.
(function () {
  'use strict';

  function takeToken() {
    var hash = new URLSearchParams(window.location.hash.slice(1));
    var query = new URLSearchParams(window.location.search);
    var token = hash.get('token') || query.get('token');
    if (query.has('token')) {
      // Keep the token out of the query string, which browsers send on
      // reload and put in history; the fragment keeps a reload working.
      query.delete('token');
      var search = query.toString();
      window.history.replaceState(null, '', window.location.pathname +
        (search ? '?' + search : '') + '#token=' + encodeURIComponent(token));
    }
    return token;
  }

  var token = takeToken();
  var ws = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var props = {
    fetcher: GraphiQL.createFetcher({
      url: '/query',
      subscriptionUrl: ws + '//' + window.location.host + '/query'
    }),
    defaultQuery: '# Welcome to the EduStream GraphQL API.\n' +
      '# To act as a user, set Authorization under Headers.\n\n' +
      'query Me {\n  me {\n    id\n    name\n    role\n  }\n}\n',
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: 'headers',
    // Tokens stay out of localStorage.
    shouldPersistHeaders: false
  };
  if (token) {
    props.headers = JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2);
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
