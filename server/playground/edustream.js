// Starts GraphiQL against this server's /query (same origin, so no CORS),
// with subscriptions over graphql-transport-ws on the same path.
//
// A token can be handed over in the link, as /#token=<jwt> (preferred: the
// fragment never leaves the browser) or /?token=<jwt>; it prefills the
// headers editor with {"Authorization": "Bearer <jwt>"}. GraphiQL passes
// those headers both on HTTP requests and in the websocket connection_init
// payload, which is where the server looks for them.
//
// The Operate panel holds the admins' saved operations (queues, tasks,
// workers, failed videos, the audit log); it opens by itself for an
// admin's token.
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

  // The role a token claims, read without checking it (the server does):
  // it only decides whether the Operate panel opens by itself.
  function roleOf(token) {
    try {
      var payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(window.atob(payload)).role || '';
    } catch (e) {
      return '';
    }
  }

  // The admins' saved operations, one document: each operation with the
  // comment above it, which says what it is for. The Operate panel lists
  // them and opens the one clicked in a new tab. playground_test.go checks
  // the document against the schema, and that every admin field has one.
  var adminOperations = `# The queues: how many tasks wait, how long the oldest has waited
# (what to scale workers on), and what ran and failed today.
query Queues {
  queues {
    name paused size pending active scheduled retry archived completed
    processedToday failedToday latencySeconds memoryBytes
  }
}

# Every worker process and what it runs now: a 4-hour upload holding
# the only transcode slot shows here.
query Workers {
  workers {
    host pid status startedAt
    queues { name concurrency }
    running {
      taskId type queue startedAt deadline
      video { id status stage progress }
      lecture { id title }
      course { id title }
    }
  }
}

# A queue's tasks in one state (PENDING, ACTIVE, SCHEDULED, RETRY,
# ARCHIVED), with why the last attempt failed and what each is about.
query Tasks($queue: String! = "video", $state: TaskState! = ARCHIVED, $first: Int = 20, $after: String) {
  tasks(queue: $queue, state: $state, first: $first, after: $after) {
    edges {
      node {
        id type state retried maxRetry lastError lastFailedAt nextProcessAt
        video { id status stage error }
        lecture { id title }
        liveSession { id title status }
        course { id title }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

# What failed: the FAILED videos of every course, newest first, with
# why. RetryVideo runs one again from the step that failed.
query FailedVideos($status: VideoStatus = FAILED, $first: Int = 20, $after: String) {
  videos(status: $status, first: $first, after: $after) {
    edges {
      node {
        id status stage progress error fileName ageSeconds updatedAt
        lecture { id title }
        course { id title }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

# Runs a lecture's FAILED video again from the step that failed.
mutation RetryVideo($lectureId: ID!) {
  retryVideo(lectureId: $lectureId) { id status stage error }
}

# Stops workers from taking the queue's tasks; running ones finish.
mutation PauseQueue($name: String! = "video") {
  pauseQueue(name: $name) { name paused pending active }
}

# Lets workers take the queue's tasks again.
mutation ResumeQueue($name: String! = "video") {
  resumeQueue(name: $name) { name paused pending active }
}

# Runs a task now; a step whose video failed there retries the video.
mutation RunTask($queue: String! = "video", $id: String!) {
  runTask(queue: $queue, id: $id) { id state video { id status stage } }
}

# Archives a waiting task (its video, if it waited for it, ends FAILED).
mutation ArchiveTask($queue: String! = "video", $id: String!) {
  archiveTask(queue: $queue, id: $id) { id state video { id status error } }
}

# Deletes a task that is not running.
mutation DeleteTask($queue: String! = "video", $id: String!) {
  deleteTask(queue: $queue, id: $id)
}

# Stops a task for good: a running transcode's ffmpeg is killed and its
# video ends FAILED, naming you.
mutation CancelTask($id: String!) {
  cancelTask(id: $id) { id queue state lastError video { id status error } }
}

# Runs every archived task of the queue again.
mutation RunAllArchivedTasks($queue: String! = "video") {
  runAllArchivedTasks(queue: $queue) { name archived pending }
}

# What admins did, newest first.
query AuditLog($first: Int = 20, $after: String) {
  auditLog(first: $first, after: $after) {
    edges { node { at actor { name email } action target result } }
    pageInfo { hasNextPage endCursor }
  }
}
`;

  // savedOperations splits the document into its operations, each with
  // its comment, and variables to fill in for those without a default.
  function savedOperations() {
    var src = adminOperations;
    return GraphiQL.GraphQL.parse(src).definitions.map(function (def) {
      var above = src.slice(0, def.loc.start).split('\n');
      above.pop();
      var comment = [];
      while (above.length && above[above.length - 1].charAt(0) === '#') {
        comment.unshift(above.pop());
      }
      var variables = {};
      (def.variableDefinitions || []).forEach(function (v) {
        if (!v.defaultValue && v.type.kind === 'NonNullType') {
          variables[v.variable.name.value] = '';
        }
      });
      return {
        name: def.name.value,
        description: comment.map(function (line) { return line.replace(/^#\s?/, ''); }).join(' '),
        query: comment.concat([src.slice(def.loc.start, def.loc.end)]).join('\n') + '\n',
        variables: Object.keys(variables).length ? JSON.stringify(variables, null, 2) : ''
      };
    });
  }

  var h = React.createElement;

  // openInNewTab opens op in a tab of its own, with the headers (the
  // token) of the tab it was opened from. addTab switches the editors to
  // the new tab when React renders it; the operation goes in after.
  function openInNewTab(editor, op) {
    var headers = editor.headerEditor ? editor.headerEditor.getValue() : '';
    editor.addTab();
    window.setTimeout(function () {
      if (editor.queryEditor) {
        editor.queryEditor.setValue(op.query);
      }
      if (editor.variableEditor) {
        editor.variableEditor.setValue(op.variables);
      }
      if (editor.headerEditor && headers) {
        editor.headerEditor.setValue(headers);
      }
    }, 0);
  }

  function OperatePanel() {
    var editor = GraphiQL.React.useEditorContext({ nonNull: true });
    var ops = React.useMemo(savedOperations, []);
    return h('section', { className: 'edustream-operate', 'aria-label': 'Operate the fleet' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Operate'),
      h('p', null, 'Saved operations for admins (everyone else gets FORBIDDEN): ' +
        'the queues, their tasks, the workers, failed videos and the audit log. ' +
        'Click one to open it in a new tab.'),
      h('ul', { style: { listStyle: 'none', padding: 0 } }, ops.map(function (op) {
        return h('li', { key: op.name, style: { marginBottom: '12px' } },
          h('button', {
            type: 'button',
            className: 'graphiql-button',
            'data-operation': op.name,
            onClick: function () { openInNewTab(editor, op); }
          }, op.name),
          h('div', { style: { opacity: 0.75, marginTop: '4px' } }, op.description));
      })));
  }

  function OperateIcon() {
    return h('svg', { viewBox: '0 0 24 24', width: '1em', height: '1em', fill: 'none', stroke: 'currentColor', strokeWidth: 1.5, 'aria-hidden': 'true' },
      h('path', { d: 'M4 6h16M4 12h16M4 18h10' }));
  }

  var operate = { title: 'Operate', icon: OperateIcon, content: OperatePanel };

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
    shouldPersistHeaders: false,
    plugins: [operate]
  };
  if (token && roleOf(token) === 'ADMIN') {
    props.visiblePlugin = operate;
  }
  if (token) {
    // New tabs (GraphiQL's + button) start with the token too.
    props.headers = props.defaultHeaders = JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2);
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
