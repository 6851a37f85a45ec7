// /mcp through the official TypeScript MCP SDK client, as an agent framework
// uses it. Every tool's result is checked against the REST API's view of the
// same tasks, in both protocol eras the SDK speaks: 2025-11-25 (with
// `initialize`) and 2026-07-28 (without). Run by tests/api/mcp.rs, which starts
// the server(s) and sets:
//   TODO_API_URL, TODO_API_URLS (every instance, comma-separated), TODO_API_USER,
//   TODO_API_TOKEN, TODO_API_OTHER_USER, TODO_API_OTHER_TOKEN.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};
const BASE = env('TODO_API_URL').replace(/\/$/, '');
// Several instances of one deployment: the client's requests go to each in
// turn, as behind a round-robin load balancer.
const INSTANCES = (process.env.TODO_API_URLS || BASE).split(',').map((url) => url.replace(/\/$/, ''));
const alice = { id: env('TODO_API_USER'), token: env('TODO_API_TOKEN') };
const bob = { id: env('TODO_API_OTHER_USER'), token: env('TODO_API_OTHER_TOKEN') };

/** Every HTTP status the server answered the SDK with. */
const statuses = [];
const instancesUsed = new Set();
let turn = 0;
const balancingFetch = async (url, init) => {
  const instance = INSTANCES[turn++ % INSTANCES.length];
  instancesUsed.add(instance);
  const target = String(url).replace(BASE, instance);
  const response = await fetch(target, { ...init, signal: AbortSignal.timeout(10_000) });
  statuses.push(response.status);
  return response;
};

async function connect(user, mode) {
  const client = new Client(
    { name: 'todo-api-mcp-test', version: '1.0.0' },
    { versionNegotiation: { mode } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${user.token}` } },
    fetch: balancingFetch,
  });
  await client.connect(transport);
  return client;
}

async function rest(user, method, path, body) {
  const response = await fetch(`${BASE}/api/${encodeURIComponent(user.id)}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${user.token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** JSON with object keys sorted: the tools' copies of tasks are compared as values. */
const canonical = (value) =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
const sameJson = (actual, expected, message) =>
  assert.equal(canonical(actual), canonical(expected), message);

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

async function ok(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  assert.notEqual(result.isError, true, `${name} failed: ${text(result)}`);
  assert.ok(result.structuredContent, `${name} has no structured content`);
  assert.ok(text(result).length > 0, `${name} has no text`);
  return result.structuredContent;
}

async function toolError(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} should have failed: ${text(result)}`);
  assert.ok(text(result).length > 0, 'a tool error says why');
  return text(result);
}

const ERAS = [
  ['2025-11-25, with initialize', 'legacy', '2025-11-25'],
  ['2026-07-28, without initialize', { pin: '2026-07-28' }, '2026-07-28'],
];

for (const [era, mode, version] of ERAS) {
  describe(`MCP ${era}`, () => {
    let agent;
    let intruder;
    before(async () => {
      agent = await connect(alice, mode);
      intruder = await connect(bob, mode);
    });
    after(async () => {
      await agent?.close();
      await intruder?.close();
    });

    it('negotiates the era it asked for', () => {
      assert.equal(agent.getNegotiatedProtocolVersion(), version);
    });

    it('lists the five tools with schemas and truthful annotations', async () => {
      const { tools } = await agent.listTools();
      const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
      assert.deepEqual(Object.keys(byName).sort(), [
        'add_task',
        'complete_task',
        'delete_task',
        'list_tasks',
        'update_task',
      ]);
      for (const tool of tools) {
        assert.ok(tool.description, `${tool.name} has a description`);
        assert.ok(tool.inputSchema.required.includes('user_id'), `${tool.name} requires user_id`);
        assert.equal(tool.inputSchema.additionalProperties, false, `${tool.name} names its arguments`);
        assert.equal(tool.outputSchema?.type, 'object', `${tool.name} has an output schema`);
        assert.equal(tool.annotations.openWorldHint, false);
        // Only JSON Schema's own formats: validators refuse or warn about others.
        assert.doesNotMatch(JSON.stringify([tool.inputSchema, tool.outputSchema]), /"format":"u?int/);
      }
      const hints = (name) => {
        const a = byName[name].annotations;
        return [a.readOnlyHint, a.destructiveHint, a.idempotentHint];
      };
      assert.deepEqual(hints('list_tasks'), [true, false, true]);
      assert.deepEqual(hints('add_task'), [false, false, false]);
      assert.deepEqual(hints('complete_task'), [false, false, false]);
      assert.deepEqual(hints('update_task'), [false, true, true]);
      assert.deepEqual(hints('delete_task'), [false, true, true]);
      for (const name of ['add_task', 'complete_task', 'update_task', 'delete_task']) {
        assert.ok(byName[name].inputSchema.properties.idempotency_key, `${name} takes an idempotency_key`);
      }
    });

    it('add_task creates what the REST API then shows', async () => {
      const added = await ok(agent, 'add_task', {
        user_id: alice.id,
        title: `Buy groceries (${version})`,
        description: 'Milk, eggs, bread',
        priority: 'high',
        tags: ['Errands'],
        due: { date: '2026-12-24' },
      });
      assert.equal(added.status, 'created');
      assert.equal(added.title, `Buy groceries (${version})`);
      assert.equal(added.replayed, false);
      const seen = await rest(alice, 'GET', `/tasks/${added.task_id}`);
      assert.equal(seen.status, 200);
      sameJson(added.task, seen.body, 'the tool shows the task as REST does');
      assert.deepEqual(seen.body.tags, ['errands']);
    });

    it('list_tasks filters and pages like the REST listing', async () => {
      const tag = `page-${crypto.randomUUID().slice(0, 8)}`;
      const ids = [];
      for (const title of ['one', 'two', 'three']) {
        ids.push((await ok(agent, 'add_task', { user_id: alice.id, title, tags: [tag] })).task_id);
      }
      const first = await ok(agent, 'list_tasks', { user_id: alice.id, tags: [tag], limit: 2, include_total: true });
      assert.equal(first.tasks.length, 2);
      assert.equal(first.total, 3);
      assert.ok(first.next_cursor, 'a cursor to the next page');
      const second = await ok(agent, 'list_tasks', { user_id: alice.id, tags: [tag], limit: 2, cursor: first.next_cursor });
      assert.equal(second.tasks.length, 1);
      assert.equal(second.next_cursor, null);
      const listed = [...first.tasks, ...second.tasks];
      const viaRest = await rest(alice, 'GET', `/tasks?tag=${tag}`);
      sameJson(listed, viaRest.body, 'both pages are the REST listing');
      assert.deepEqual(listed.map((t) => t.id), ids.reverse(), 'newest first');

      const pending = await ok(agent, 'list_tasks', { user_id: alice.id, status: 'pending', priority: ['high'], sort: 'due' });
      const pendingRest = await rest(alice, 'GET', '/tasks?status=pending&priority=high&sort=due&limit=50');
      sameJson(pending.tasks, pendingRest.body);
    });

    it('complete_task marks done and reopens, and moves a recurring task on', async () => {
      const { task_id } = await ok(agent, 'add_task', { user_id: alice.id, title: 'Call mom' });
      const done = await ok(agent, 'complete_task', { user_id: alice.id, task_id });
      assert.equal(done.status, 'completed');
      assert.equal((await rest(alice, 'GET', `/tasks/${task_id}`)).body.completed, true);
      const reopened = await ok(agent, 'complete_task', { user_id: alice.id, task_id, completed: false });
      assert.equal(reopened.status, 'reopened');
      sameJson(reopened.task, (await rest(alice, 'GET', `/tasks/${task_id}`)).body);

      const weekly = await ok(agent, 'add_task', {
        user_id: alice.id,
        title: 'Water the plants',
        due: { date: '2026-12-01' },
        recurrence: { rrule: 'FREQ=WEEKLY' },
      });
      const moved = await ok(agent, 'complete_task', { user_id: alice.id, task_id: weekly.task_id });
      assert.equal(moved.task.completed, false);
      assert.equal(moved.task.due.date, '2026-12-08');
    });

    it('update_task changes only what it is given, and can clear', async () => {
      const { task_id } = await ok(agent, 'add_task', { user_id: alice.id, title: 'Draft', description: 'old', priority: 'low' });
      const updated = await ok(agent, 'update_task', { user_id: alice.id, task_id, title: 'Final', description: null });
      assert.equal(updated.status, 'updated');
      const seen = (await rest(alice, 'GET', `/tasks/${task_id}`)).body;
      assert.equal(seen.title, 'Final');
      assert.equal(seen.description, null);
      assert.equal(seen.priority, 'low');
      sameJson(updated.task, seen);
    });

    it('delete_task moves the task to the trash and says which it was', async () => {
      const { task_id } = await ok(agent, 'add_task', { user_id: alice.id, title: 'Old task' });
      const deleted = await ok(agent, 'delete_task', { user_id: alice.id, task_id });
      assert.deepEqual([deleted.status, deleted.title, deleted.task], ['deleted', 'Old task', null]);
      assert.equal((await rest(alice, 'GET', `/tasks/${task_id}`)).status, 404);
      const trash = await rest(alice, 'GET', '/trash');
      assert.ok(trash.body.some((t) => t.id === task_id), 'it is in the trash');
      assert.match(await toolError(agent, 'delete_task', { user_id: alice.id, task_id }), /not found/i);
    });

    it('an idempotency_key makes a retried write happen once', async () => {
      const key = crypto.randomUUID();
      const before = (await rest(alice, 'GET', '/tasks?include_total=true&limit=1')).headers.get('x-total-count');
      const args = { user_id: alice.id, title: 'Pay bills', idempotency_key: key };
      const first = await ok(agent, 'add_task', args);
      const retry = await ok(agent, 'add_task', args);
      assert.equal(retry.task_id, first.task_id);
      assert.equal(retry.replayed, true);
      const after = (await rest(alice, 'GET', '/tasks?include_total=true&limit=1')).headers.get('x-total-count');
      assert.equal(Number(after), Number(before) + 1);
      const other = await toolError(agent, 'add_task', { ...args, title: 'Something else' });
      assert.match(other, /Idempotency-Key/);

      const deleteKey = crypto.randomUUID();
      const gone = await ok(agent, 'delete_task', { user_id: alice.id, task_id: first.task_id, idempotency_key: deleteKey });
      const again = await ok(agent, 'delete_task', { user_id: alice.id, task_id: first.task_id, idempotency_key: deleteKey });
      assert.equal(gone.replayed, false);
      assert.equal(again.replayed, true);
    });

    it('expected_version refuses a write from a stale view', async () => {
      const { task } = await ok(agent, 'add_task', { user_id: alice.id, title: 'Versioned' });
      await ok(agent, 'update_task', { user_id: alice.id, task_id: task.id, title: 'Changed elsewhere' });
      const stale = await toolError(agent, 'update_task', {
        user_id: alice.id,
        task_id: task.id,
        title: 'From a stale view',
        expected_version: task.version,
      });
      assert.match(stale, /412/);
      assert.equal((await rest(alice, 'GET', `/tasks/${task.id}`)).body.title, 'Changed elsewhere');
    });

    it('not-found and invalid arguments are tool errors the model can read', async () => {
      assert.match(await toolError(agent, 'complete_task', { user_id: alice.id, task_id: 987654321 }), /not found/i);
      assert.match(await toolError(agent, 'add_task', { user_id: alice.id, title: '' }), /title/);
      assert.match(await toolError(agent, 'add_task', { user_id: alice.id, title: 'x', priority: 'urgent' }), /urgent|priority/);
      assert.match(await toolError(agent, 'add_task', { user_id: alice.id, title: 'x', due_date: '2026-12-01' }), /due_date/);
      assert.match(await toolError(agent, 'update_task', { user_id: alice.id, task_id: 1 }), /at least one/i);
      assert.match(await toolError(agent, 'add_task', { title: 'no user' }), /user_id/);
      assert.match(await toolError(agent, 'list_tasks', { user_id: alice.id, cursor: 'forged' }), /cursor/);
    });

    it("another user's token can neither read nor change the user's tasks", async () => {
      const { task_id } = await ok(agent, 'add_task', { user_id: alice.id, title: 'Private' });
      const before = (await rest(alice, 'GET', `/tasks/${task_id}`)).body;
      // Naming the user is not enough: the token decides.
      for (const [name, args] of [
        ['list_tasks', { user_id: alice.id }],
        ['add_task', { user_id: alice.id, title: 'planted' }],
        ['complete_task', { user_id: alice.id, task_id }],
        ['update_task', { user_id: alice.id, task_id, title: 'hijacked' }],
        ['delete_task', { user_id: alice.id, task_id }],
      ]) {
        assert.match(await toolError(intruder, name, args), /not the signed-in user/, name);
      }
      // Under their own id, the task does not exist for them.
      for (const [name, args] of [
        ['complete_task', { user_id: bob.id, task_id }],
        ['update_task', { user_id: bob.id, task_id, title: 'hijacked' }],
        ['delete_task', { user_id: bob.id, task_id }],
      ]) {
        assert.match(await toolError(intruder, name, args), /not found/i, name);
      }
      const theirs = await ok(intruder, 'list_tasks', { user_id: bob.id, search: 'Private' });
      assert.deepEqual(theirs.tasks, []);
      sameJson((await rest(alice, 'GET', `/tasks/${task_id}`)).body, before, 'unchanged');
    });

    it('fuzzed arguments and unknown tools get tool errors or JSON-RPC errors, never a 5xx or a hang', async () => {
      const values = [null, true, 0, -1, 2 ** 53, 1.5, '', 'x'.repeat(20_000), '\u0000', '🦀', [], [1], {}, { a: 1 }];
      const names = ['user_id', 'task_id', 'title', 'description', 'priority', 'tags', 'due', 'recurrence',
        'reminders', 'status', 'limit', 'cursor', 'completed', 'expected_version', 'idempotency_key', 'sort'];
      // mulberry32: the same calls on every run.
      let seed = 7;
      const random = () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
      };
      const pick = (list) => list[Math.floor(random() * list.length)];
      const outcomes = { result: 0, toolError: 0, rpcError: 0 };
      for (let i = 0; i < 100; i++) {
        const args = { user_id: alice.id };
        for (let j = pick([0, 1, 2, 3]); j > 0; j--) args[pick(names)] = pick(values);
        const tool = pick(['add_task', 'list_tasks', 'complete_task', 'update_task', 'delete_task', 'no_such_tool']);
        try {
          const result = await agent.callTool({ name: tool, arguments: args });
          outcomes[result.isError ? 'toolError' : 'result']++;
        } catch (err) {
          assert.equal(typeof err.code, 'number', `${tool} ${JSON.stringify(args).slice(0, 200)}: ${err}`);
          outcomes.rpcError++;
        }
      }
      await assert.rejects(agent.callTool({ name: 'no_such_tool', arguments: {} }), (err) => typeof err.code === 'number');
      assert.ok(outcomes.toolError > 0, 'some fuzzed calls were refused as tool errors');
      assert.ok(outcomes.rpcError > 0, 'calls of unknown tools were JSON-RPC errors');
      console.log(`fuzz (${version}): ${JSON.stringify(outcomes)}`);
    });
  });
}

describe('HTTP, before any MCP processing', () => {
  const post = (headers, body) =>
    fetch(`${BASE}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body ?? { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });

  it('a request without a token is a 401 with WWW-Authenticate: Bearer', async () => {
    const response = await post({});
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await response.json()).status, 401);
  });

  it('a refused token is a 401 with error="invalid_token"', async () => {
    const response = await post({ Authorization: `Bearer ${alice.token}x` });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  });

  it('the SDK client reports the 401 instead of connecting', async () => {
    const client = new Client({ name: 'no-token', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`));
    await assert.rejects(client.connect(transport));
  });

  it('malformed JSON-RPC gets a 4xx, never a 5xx', async () => {
    const auth = { Authorization: `Bearer ${alice.token}` };
    for (const body of [[], 'not json', { jsonrpc: '1.0' }, { jsonrpc: '2.0', id: 1 }, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: 5 }]) {
      const response = await post(auth, body);
      assert.ok(response.status < 500, `${JSON.stringify(body)}: ${response.status}`);
    }
  });

  it('every answer the SDK got was below 500, and every instance served it', () => {
    assert.ok(statuses.length > 0);
    assert.deepEqual(statuses.filter((status) => status >= 500), []);
    assert.equal(instancesUsed.size, INSTANCES.length, 'requests reached every instance');
  });
});
