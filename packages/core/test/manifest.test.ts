import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EXIT_USAGE,
  MANIFEST_MAX_BYTES,
  isGitUrl,
  loadManifest,
  parseManifestText,
  validateManifest,
  type BottleError,
  type Manifest,
} from '../src/index.js';
import { assertDetails, cleanupTempDirs, rejects, tempDir } from './helpers.js';

/** A manifest folder (with key files) and a home folder (with ~/.ssh files), made fresh per suite. */
interface World {
  base: string;
  home: string;
}

async function makeWorld(): Promise<World> {
  const base = await tempDir('bottle-manifest-');
  const home = await tempDir('bottle-home-');
  await mkdir(path.join(base, 'keys', 'a-directory'), { recursive: true });
  await writeFile(path.join(base, 'keys', 'id_app'), 'not a real key\n');
  await writeFile(path.join(base, 'keys', 'known_hosts'), 'host ssh-ed25519 AAAA\n');
  await mkdir(path.join(home, '.ssh', 'a-directory'), { recursive: true });
  await writeFile(path.join(home, '.ssh', 'id_ed25519'), 'not a real key\n');
  await writeFile(path.join(home, '.ssh', 'known_hosts'), 'host ssh-ed25519 AAAA\n');
  return { base, home };
}

const bottleWith = (bottle: unknown) => ({ bottles: { dev: bottle }, agents: { demo: { bottle: 'dev' } } });
const agentWith = (agent: unknown) => ({ bottles: { dev: {} }, agents: { demo: agent } });
const gitWith = (...entries: unknown[]) => bottleWith({ git: entries });
const routeWith = (...routes: unknown[]) => bottleWith({ egress: { routes } });
const app = { Name: 'app', Upstream: 'ssh://git@host.example/app.git' };

/** One line per problem: a JSON path, a colon, then what is wrong. */
const KEY = String.raw`(?:[A-Za-z_$][\w$-]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])`;
const PATH_LINE = new RegExp(String.raw`^(?:\(top level\)|${KEY}(?:\.[A-Za-z_$][\w$-]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])*): \S`);

interface BadCase {
  name: string;
  value: unknown;
  details: (RegExp | string)[];
}

const BAD: BadCase[] = [
  // wrong types, top level down
  { name: 'bottles is a number', value: { bottles: 1, agents: {} }, details: ['bottles: expected an object but got the number 1'] },
  { name: 'agents is an array', value: { bottles: {}, agents: [] }, details: ['agents: expected an object but got an array'] },
  { name: 'both sections missing', value: {}, details: ['bottles: missing; it is required', 'agents: missing; it is required'] },
  { name: '$schema is a number', value: { $schema: 5, bottles: {}, agents: {} }, details: ['$schema: expected a string but got the number 5'] },
  { name: 'a bottle is a string', value: bottleWith('dev'), details: ['bottles.dev: expected an object but got the string "dev"'] },
  { name: 'a bottle is an array', value: bottleWith([]), details: ['bottles.dev: expected an object but got an array'] },
  { name: 'git is an object', value: bottleWith({ git: { Name: 'app' } }), details: ['bottles.dev.git: expected an array but got an object'] },
  { name: 'a git entry is a string', value: gitWith('ssh://host/app.git'), details: ['bottles.dev.git[0]: expected an object but got the string "ssh://host/app.git"'] },
  { name: 'a git entry is null', value: gitWith(null), details: ['bottles.dev.git[0]: expected an object but got null'] },
  {
    name: 'git entry fields of the wrong type',
    value: gitWith({ Name: 1, Upstream: true, push: 'yes', protect: 'main' }),
    details: [
      'bottles.dev.git[0].Name: expected a string but got the number 1',
      'bottles.dev.git[0].Upstream: expected a string but got true',
      'bottles.dev.git[0].push: expected true or false but got the string "yes"',
      'bottles.dev.git[0].protect: expected an array but got the string "main"',
    ],
  },
  { name: 'git entry without Name and Upstream', value: gitWith({}), details: ['bottles.dev.git[0].Name: missing; it is required', 'bottles.dev.git[0].Upstream: missing; it is required'] },
  { name: 'an empty protect pattern', value: gitWith({ ...app, protect: ['main', ' '] }), details: ['bottles.dev.git[0].protect[1]: a protect pattern must not be empty'] },
  { name: 'refs is a string', value: gitWith({ ...app, refs: 'refs/notes/*' }), details: ['bottles.dev.git[0].refs: expected an array but got the string "refs/notes/*"'] },
  { name: 'an empty refs pattern', value: gitWith({ ...app, refs: [' '] }), details: ['bottles.dev.git[0].refs[0]: a refs pattern must not be empty'] },
  { name: 'refs opting in to refs/replace/', value: gitWith({ ...app, refs: ['refs/notes/*', 'refs/replace/*'] }), details: [/^bottles\.dev\.git\[0\]\.refs\[1\]: refs\/replace\/ can never be opted in: a replace ref makes git show another commit in place of the one it names/] },
  { name: 'refs opting in to refs/Replace./ (one folder on a case-insensitive file system)', value: gitWith({ ...app, refs: ['refs/Replace./x', 'refs/re\u200dplace/*'] }), details: [/^bottles\.dev\.git\[0\]\.refs\[0\]: refs\/replace\/ can never be opted in/, /^bottles\.dev\.git\[0\]\.refs\[1\]: refs\/replace\/ can never be opted in/] },
  { name: 'refs opting in to refs/namespaces/', value: gitWith({ ...app, refs: ['refs/namespaces/x/*'] }), details: [/^bottles\.dev\.git\[0\]\.refs\[0\]: refs\/namespaces\/ can never be opted in/] },
  { name: 'refs naming branches', value: gitWith({ ...app, refs: ['refs/heads/*'] }), details: [/^bottles\.dev\.git\[0\]\.refs\[0\]: refs\/heads\/ and refs\/tags\/ are always pushable/] },
  { name: 'refs without a namespace', value: gitWith({ ...app, refs: ['refs/*'] }), details: [/^bottles\.dev\.git\[0\]\.refs\[0\]: a refs pattern names refs in one namespace outside refs\/heads\/ and refs\/tags\/, such as "refs\/notes\/\*" or "refs\/for\/\*"; "refs\/\*" does not start with refs\/<namespace>\//] },
  { name: 'refs with a space', value: gitWith({ ...app, refs: ['refs/notes/a b'] }), details: [/^bottles\.dev\.git\[0\]\.refs\[0\]: .*no spaces, control characters/] },
  { name: 'git_user is a string', value: bottleWith({ git_user: 'Bot <bot@example.com>' }), details: [/^bottles\.dev\.git_user: expected an object but got the string "Bot <bot@example\.com>"$/] },
  { name: 'git_user.email is not an address', value: bottleWith({ git_user: { name: 'Bot', email: 'bot at example' } }), details: ['bottles.dev.git_user.email: git_user.email "bot at example" is not an e-mail address'] },
  { name: 'git_user.name is empty', value: bottleWith({ git_user: { name: '' } }), details: ['bottles.dev.git_user.name: git_user.name must not be empty'] },
  { name: 'egress is an array', value: bottleWith({ egress: [] }), details: ['bottles.dev.egress: expected an object but got an array'] },
  { name: 'egress routes that are not a list', value: bottleWith({ egress: { routes: { host: 'x.com' } } }), details: [/^bottles\.dev\.egress\.routes: expected an array/] },
  { name: 'a setup command that is empty', value: bottleWith({ setup: ['npm ci', '  '] }), details: ['bottles.dev.setup[1]: a setup command must not be empty'] },
  { name: 'a setup that is a string', value: agentWith({ bottle: 'dev', setup: 'npm ci' }), details: [/^agents\.demo\.setup: expected an array/] },
  { name: 'a route is a string', value: routeWith('api.example.com'), details: ['bottles.dev.egress.routes[0]: expected an object but got the string "api.example.com"'] },
  { name: 'a route without host', value: routeWith({ methods: ['GET'] }), details: ['bottles.dev.egress.routes[0].host: missing; it is required'] },
  {
    name: 'bad methods and paths',
    value: routeWith({ host: 'api.example.com', methods: ['GET', 'FETCH'], paths: ['/v1', 'v2'] }),
    details: ['bottles.dev.egress.routes[0].methods[1]: methods may contain GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'bottles.dev.egress.routes[0].paths[1]: each path prefix must start with "/"'],
  },
  { name: 'supervise is a string', value: bottleWith({ supervise: 'yes' }), details: ['bottles.dev.supervise: supervise is true, false, or {"credentials": ["NAME", ...]} (the host env vars a request may ask for), not the string "yes"'] },
  { name: 'supervise is a quoted boolean', value: bottleWith({ supervise: 'true' }), details: ['bottles.dev.supervise: supervise is true, false, or {"credentials": ["NAME", ...]} (the host env vars a request may ask for), not the string "true"; write it without quotes'] },
  { name: 'supervise is a list', value: bottleWith({ supervise: ['GITHUB_TOKEN'] }), details: ['bottles.dev.supervise: supervise is true, false, or {"credentials": ["NAME", ...]} (the host env vars a request may ask for), not an array'] },
  { name: 'supervise credentials is not a list', value: bottleWith({ supervise: { credentials: 'GITHUB_TOKEN' } }), details: ['bottles.dev.supervise.credentials: credentials must be a list of host environment variable names, such as ["GITHUB_TOKEN"]'] },
  {
    name: 'a supervise credential that is a value, not a name',
    value: bottleWith({ supervise: { credentials: ['ghp_0123456789abcdef value'] } }),
    details: ['bottles.dev.supervise.credentials[0]: the string "ghp_0123456789abcdef value" is not an environment variable name; name the host variable a request may ask for'],
  },
  { name: 'supervise with a misspelt key', value: bottleWith({ supervise: { credential: ['GITHUB_TOKEN'] } }), details: ['bottles.dev.supervise.credential: unknown key "credential"; did you mean "credentials"?'] },
  { name: 'an agent is null', value: agentWith(null), details: ['agents.demo: expected an object but got null'] },
  { name: 'an agent without bottle', value: agentWith({ prompt: 'hi' }), details: ['agents.demo.bottle: missing; it is required'] },
  {
    name: 'agent fields of the wrong type',
    value: agentWith({ bottle: 5, skills: 'init-prd', prompt: ['a'], provisioners: 'ca' }),
    details: [
      'agents.demo.bottle: expected a string but got the number 5',
      'agents.demo.skills: expected an array but got the string "init-prd"',
      'agents.demo.prompt: expected a string but got an array',
      'agents.demo.provisioners: expected an array but got the string "ca"',
    ],
  },
  { name: 'an empty bottle reference', value: agentWith({ bottle: '  ' }), details: ['agents.demo.bottle: bottle must not be empty'] },

  // unknown keys, every level
  { name: 'unknown top-level key', value: { bottles: {}, agents: {}, agent: {} }, details: [/^agent: unknown key "agent"; did you mean "agents"\? remove it or fix its spelling \(allowed here: \$schema, bottles, agents\)$/] },
  { name: 'unknown bottle key', value: bottleWith({ egres: { routes: [] } }), details: [/^bottles\.dev\.egres: unknown key "egres"; did you mean "egress"\?/] },
  { name: 'unknown git entry key (wrong case)', value: gitWith({ Name: 'app', upstream: 'ssh://host/app.git' }), details: [/^bottles\.dev\.git\[0\]\.upstream: unknown key "upstream"; did you mean "Upstream"\?/, 'bottles.dev.git[0].Upstream: missing; it is required'] },
  { name: 'unknown git_user key', value: bottleWith({ git_user: { mail: 'bot@example.com' } }), details: [/^bottles\.dev\.git_user\.mail: unknown key "mail"; did you mean "email"\?/] },
  { name: 'unknown egress key', value: bottleWith({ egress: { routes: [], allow: ['x.com'] } }), details: [/^bottles\.dev\.egress\.allow: unknown key "allow"; remove it or fix its spelling \(allowed here: routes, presets\)$/] },
  { name: 'unknown route key', value: routeWith({ host: 'api.example.com', port: 443 }), details: [/^bottles\.dev\.egress\.routes\[0\]\.port: unknown key "port"/] },
  { name: 'unknown auth key', value: routeWith({ host: 'api.example.com', auth: { header: 'x-api-key', env: 'KEY', value: 'sk-123' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.value: unknown key "value"/] },
  { name: 'unknown agent key', value: agentWith({ bottle: 'dev', skill: ['a'] }), details: [/^agents\.demo\.skill: unknown key "skill"; did you mean "skills"\?/] },
  { name: 'a "__proto__" key is data, not a prototype', value: JSON.parse('{"bottles":{},"agents":{},"__proto__":{"x":1}}'), details: [/^__proto__: unknown key "__proto__"/] },

  // references and duplicates
  { name: 'missing bottle reference', value: { bottles: { dev: {} }, agents: { demo: { bottle: 'prod' } } }, details: ['agents.demo.bottle: bottle "prod" is not defined in "bottles" (the bottles are: dev)'] },
  { name: 'a bottle reference with no bottles at all', value: { bottles: {}, agents: { demo: { bottle: 'dev' } } }, details: ['agents.demo.bottle: bottle "dev" is not defined in "bottles" (no bottles are defined)'] },
  { name: 'duplicate git Names, case-insensitive', value: gitWith(app, { Name: 'App', Upstream: 'ssh://git@host.example/other.git' }), details: ['bottles.dev.git[1].Name: duplicate git Name "App" (also at bottles.dev.git[0].Name)'] },
  {
    name: 'duplicate routes (host case-insensitive)',
    value: routeWith({ host: 'api.example.com' }, { host: 'API.example.com' }),
    details: ['bottles.dev.egress.routes[1].host: route for "api.example.com" repeats bottles.dev.egress.routes[0]; merge them'],
  },
  {
    name: 'duplicate provisioners (name and object)',
    value: agentWith({ bottle: 'dev', provisioners: ['ca', 'git', { name: 'ca', options: {} }] }),
    details: ['agents.demo.provisioners[2]: provisioner "ca" is listed twice; list each once'],
  },
  { name: 'duplicate skills', value: agentWith({ bottle: 'dev', skills: ['a', 'b', 'a'] }), details: ['agents.demo.skills[2]: skill "a" is listed twice; list each once'] },

  // names
  { name: 'empty agent name', value: { bottles: { dev: {} }, agents: { '': { bottle: 'dev' } } }, details: [/^agents\[""\]: "" is not a valid agent name; use 1-40 characters of a-z, 0-9, "-" or "_", starting with a letter or digit$/] },
  { name: 'upper-case agent name', value: { bottles: { dev: {} }, agents: { Demo: { bottle: 'dev' } } }, details: [/^agents\.Demo: "Demo" is not a valid agent name/] },
  { name: 'agent name with a space', value: { bottles: { dev: {} }, agents: { 'my agent': { bottle: 'dev' } } }, details: [/^agents\["my agent"\]: "my agent" is not a valid agent name/] },
  { name: 'agent name of 41 characters', value: { bottles: { dev: {} }, agents: { ['a'.repeat(41)]: { bottle: 'dev' } } }, details: [/^agents\.a{41}: "a{41}" is not a valid agent name/] },
  { name: 'bottle name starting with "-"', value: { bottles: { '-dev': {} }, agents: {} }, details: [/^bottles\["-dev"\]: "-dev" is not a valid bottle name/] },
  { name: 'bottle name with a dot', value: { bottles: { 'dev.1': {} }, agents: {} }, details: [/^bottles\["dev\.1"\]: "dev\.1" is not a valid bottle name/] },
  { name: 'git Name with a slash', value: gitWith({ ...app, Name: 'org/app' }), details: [/^bottles\.dev\.git\[0\]\.Name: Name must be 1-100 characters/] },
  { name: 'git Name ending in .git', value: gitWith({ ...app, Name: 'app.GIT' }), details: ['bottles.dev.git[0].Name: Name must not end in ".git" or contain ".."'] },
  { name: 'skill name with a slash', value: agentWith({ bottle: 'dev', skills: ['../etc'] }), details: [/^agents\.demo\.skills\[0\]: a skill name must be a directory name/] },

  // provisioner refs
  { name: 'provisioner ref with a bad name', value: agentWith({ bottle: 'dev', provisioners: ['Bad Name'] }), details: [/^agents\.demo\.provisioners\[0\]: the string "Bad Name" is not a provisioner name; use 1-40 characters/] },
  { name: 'provisioner ref is a number', value: agentWith({ bottle: 'dev', provisioners: [1] }), details: ['agents.demo.provisioners[0]: a provisioner is a name ("ca") or an object {"name": "...", "options": {...}}, not the number 1'] },
  { name: 'provisioner ref is null', value: agentWith({ bottle: 'dev', provisioners: [null] }), details: [/^agents\.demo\.provisioners\[0\]: a provisioner is a name .*, not null$/] },
  { name: 'provisioner ref object with an unknown key', value: agentWith({ bottle: 'dev', provisioners: [{ name: 'ca', opts: { a: 1 } }] }), details: [/^agents\.demo\.provisioners\[0\]\.opts: unknown key "opts"; did you mean "options"\? remove it or fix its spelling \(allowed here: name, options\)$/] },
  { name: 'provisioner ref object without name', value: agentWith({ bottle: 'dev', provisioners: [{ options: {} }] }), details: ['agents.demo.provisioners[0].name: missing; it is required'] },
  { name: 'provisioner ref options is an array', value: agentWith({ bottle: 'dev', provisioners: [{ name: 'ca', options: [1] }] }), details: ['agents.demo.provisioners[0].options: expected an object but got an array'] },
  { name: 'provisioner ref object with a bad name', value: agentWith({ bottle: 'dev', provisioners: [{ name: 'CA' }] }), details: [/^agents\.demo\.provisioners\[0\]\.name: the string "CA" is not a provisioner name/] },

  // routes: host, to, auth
  { name: 'route host with a scheme', value: routeWith({ host: 'https://api.example.com' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.host: host must not include a scheme \("https:\/\/"\)/] },
  { name: 'route host with a port', value: routeWith({ host: 'api.example.com:443' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.host: host must not include a port/] },
  { name: 'route host with a path', value: routeWith({ host: 'api.example.com/v1' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.host: host must not include a path/] },
  { name: 'route host is an IPv4 literal', value: routeWith({ host: '10.0.0.1' }), details: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host is a short IPv4 form', value: routeWith({ host: '127.1' }), details: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host is a hex IPv4 form', value: routeWith({ host: '0x7f000001' }), details: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host is a bracketed IPv6 literal', value: routeWith({ host: '[::1]' }), details: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host is a bare IPv6 literal', value: routeWith({ host: 'fe80::1' }), details: ['bottles.dev.egress.routes[0].host: host must be a name, not an IP address'] },
  { name: 'route host with a space', value: routeWith({ host: 'api example.com' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.host: host "api example\.com" is not a valid DNS name/] },
  { name: 'route host empty', value: routeWith({ host: '' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.host: host must not be empty/] },
  { name: 'route to with another scheme', value: routeWith({ host: 'api.example.com', to: 'ftp://gw.internal' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.to: to must be an origin .*"ftp:\/\/" is not http:\/\/ or https:\/\//] },
  { name: 'route to with a path', value: routeWith({ host: 'api.example.com', to: 'https://gw.internal:8443/v1' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.to: to must be an origin .*remove the path, query or fragment$/] },
  { name: 'route to with a query', value: routeWith({ host: 'api.example.com', to: 'https://gw.internal/?a=1' }), details: [/remove the path, query or fragment$/] },
  { name: 'route to with credentials', value: routeWith({ host: 'api.example.com', to: 'https://user:pw@gw.internal' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.to: .*put credentials in "auth"/] },
  { name: 'route to that is not a URL', value: routeWith({ host: 'api.example.com', to: 'gw.internal:8443' }), details: [/^bottles\.dev\.egress\.routes\[0\]\.to: to must be an origin/] },
  { name: 'auth header with a space', value: routeWith({ host: 'a.example.com', auth: { header: 'x api key', env: 'KEY' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.header: header must be an HTTP header name/] },
  { name: 'auth env that starts with a digit', value: routeWith({ host: 'a.example.com', auth: { header: 'x-api-key', env: '1KEY' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.env: env must be the name of an environment variable/] },
  { name: 'auth env that is a secret value', value: routeWith({ host: 'a.example.com', auth: { header: 'x-api-key', env: 'sk-ant-api03-abc' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.env: .*not its value$/] },
  { name: 'auth env that the bottle itself uses', value: routeWith({ host: 'a.example.com', auth: { header: 'x-api-key', env: 'HOME' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.env: HOME is set by bot-bottle inside the bottle/] },
  { name: 'auth format without {value}', value: routeWith({ host: 'a.example.com', auth: { header: 'authorization', env: 'KEY', format: 'Bearer' } }), details: ['bottles.dev.egress.routes[0].auth.format: format must contain {value}, e.g. "Bearer {value}"'] },
  ...['content-length', 'Transfer-Encoding', 'host', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authorization', 'Proxy-Anything', 'accept-encoding', 'x-forwarded-for'].map((header) => ({
    name: `auth header ${header} (framing, routing or hop-by-hop)`,
    value: routeWith({ host: 'a.example.com', auth: { header, env: 'KEY' } }),
    details: [new RegExp(`^bottles\\.dev\\.egress\\.routes\\[0\\]\\.auth\\.header: header "${header}" frames, routes or belongs to one hop`)],
  })),
  { name: 'auth format with a line break', value: routeWith({ host: 'a.example.com', auth: { header: 'authorization', env: 'KEY', format: 'Bearer {value}\r\nx-extra: 1' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.format: format must be printable ASCII/] },
  { name: 'auth format with an invisible character', value: routeWith({ host: 'a.example.com', auth: { header: 'authorization', env: 'KEY', format: 'Bearer\u200b {value}' } }), details: [/^bottles\.dev\.egress\.routes\[0\]\.auth\.format: format must be printable ASCII/] },
  { name: 'auth without env', value: routeWith({ host: 'a.example.com', auth: { header: 'x-api-key' } }), details: ['bottles.dev.egress.routes[0].auth.env: missing; it is required'] },

  // many problems at once: one line each, nothing else
  {
    name: 'a missing bottle reference is reported beside schema problems',
    value: { bottles: { dev: { supervise: 'no' } }, agents: { demo: { bottle: 'prd' }, ok: { bottle: 'dev' } } },
    details: ['bottles.dev.supervise: supervise is true, false, or {"credentials"', 'agents.demo.bottle: bottle "prd" is not defined in "bottles" (the bottles are: dev)'],
  },
  {
    name: 'several problems in one manifest',
    value: { bottles: { dev: { git: [{ Name: 'app', Upstream: 'nope' }], supervise: 1 } }, agents: { demo: { bottle: 'dev', extra: true } } },
    details: ['bottles.dev.git[0].Upstream:', 'bottles.dev.supervise:', 'agents.demo.extra:'],
  },
];

const BAD_UPSTREAMS: [string, RegExp][] = [
  ['not-a-url', /is not a git URL; use ssh:\/\/user@host\/repo\.git/],
  ['not a url', /must not contain spaces/],
  ['ftp://host.example/app.git', /scheme "ftp:\/\/" is not supported/],
  ['ssh://host.example', /names no repository path/],
  ['https://host.example/', /names no repository path/],
  ['git@host.example:', /is not a git URL/],
  ['', /must not be empty/],
  ['https://host.example/a b.git', /must not contain spaces/],
  ['-oProxyCommand=touch:x', /is not a git URL|must not start with "-"/],
  ['-oProxy@host.example:app.git', /must not start with "-"/],
  ['ssh://-oProxyCommand@host.example/app.git', /must not start with "-"/],
  ['https://[::1/app.git', /is not a valid URL/],
  ['/srv/git/app.git', /is not a git URL/],
];

const GOOD_UPSTREAMS = [
  'ssh://git@host.example/app.git',
  'ssh://git@host.example:2222/org/app.git',
  'git@github.com:org/app.git',
  'host.example:app.git',
  'https://host.example/org/app.git',
  'http://127.0.0.1:8080/app.git',
  'git://host.example/app',
  'file:///srv/git/app.git',
  'git+ssh://git@host.example/app.git',
];

function expectManifestError(err: BottleError, details: readonly (RegExp | string)[]): void {
  assert.is(err.code, 'MANIFEST_INVALID', `code (message: ${err.message}; details: ${err.details.join(' | ')})`);
  assert.is(err.exit, EXIT_USAGE);
  assert.match(err.message, /is not a valid manifest/);
  assert.ok(err.suggestions.length > 0, 'a manifest error says how to fix it');
  for (const line of err.details) assert.match(line, PATH_LINE, `each detail line starts with a JSON path: ${line}`);
  assertDetails(err, details);
}

const bad = suite<World>('manifest: bad manifests');
bad.before(async (ctx) => {
  Object.assign(ctx, await makeWorld());
});
bad.after(cleanupTempDirs);

for (const c of BAD) {
  bad(`${c.name} (validateManifest)`, async ({ base, home }) => {
    expectManifestError(await rejects(() => validateManifest(c.value, 'bottle.json', base, home)), c.details);
  });
}

bad('every bad case also fails the same way as text and from a file', async ({ base, home }) => {
  let n = 0;
  for (const c of BAD) {
    const text = JSON.stringify(c.value, null, 2);
    if (text.includes('__proto__')) continue; // JSON.stringify of a parsed "__proto__" key round-trips; checked below
    const fromText = await rejects(() => parseManifestText(text, 'inline.json', base, home));
    expectManifestError(fromText, c.details);
    const file = path.join(base, `case-${n++}.json`);
    await writeFile(file, text);
    const fromFile = await rejects(() => loadManifest(file, home));
    assert.equal(fromFile.details, fromText.details, c.name);
    assert.is(fromFile.message, `${file} is not a valid manifest`);
  }
  assert.ok(n >= 30, `${n} distinct bad manifests`);
});

bad('a "__proto__" key in the text is reported, not applied as a prototype', async ({ base, home }) => {
  const err = await rejects(() => parseManifestText('{"bottles":{},"agents":{},"__proto__":{"agents":{"x":1}}}', 'm.json', base, home));
  expectManifestError(err, [/^__proto__: unknown key "__proto__"/]);
  const inAgents = await rejects(() => parseManifestText('{"bottles":{"dev":{}},"agents":{"__proto__":{"bottle":"dev"}}}', 'm.json', base, home));
  expectManifestError(inAgents, ['agents.__proto__: "__proto__" cannot be an agent name; choose another']);
  const names = await rejects(() => parseManifestText('{"bottles":{"constructor":{}},"agents":{"prototype":{"bottle":"constructor"}}}', 'm.json', base, home));
  expectManifestError(names, ['bottles.constructor: "constructor" cannot be a bottle name; choose another', 'agents.prototype: "prototype" cannot be an agent name; choose another']);
  const options = await parseManifestText('{"bottles":{"dev":{}},"agents":{"demo":{"bottle":"dev","provisioners":[{"name":"x","options":{"constructor":1,"__proto__":{"a":1}}}]}}}', 'm.json', base, home);
  const given = options.manifest.agents.demo!.provisioners![0] as { options: Record<string, unknown> };
  assert.equal(Object.keys(given.options), ['constructor', '__proto__'], 'options keep every key as data');
  assert.is(Object.getPrototypeOf(given.options), Object.prototype);
});

for (const [upstream, why] of BAD_UPSTREAMS) {
  bad(`bad Upstream ${JSON.stringify(upstream)}`, async ({ base, home }) => {
    assert.not.ok(isGitUrl(upstream));
    const err = await rejects(() => validateManifest(gitWith({ Name: 'app', Upstream: upstream }), 'bottle.json', base, home));
    expectManifestError(err, [why]);
    assert.match(err.details[0]!, /^bottles\.dev\.git\[0\]\.Upstream: Upstream /);
  });
}

bad('IdentityFile and KnownHosts that do not exist or are directories', async ({ base, home }) => {
  const entries = [
    { Name: 'rel-missing', Upstream: 'ssh://h.example/a.git', IdentityFile: 'keys/nope' },
    { Name: 'rel-dir', Upstream: 'ssh://h.example/b.git', IdentityFile: 'keys/a-directory' },
    { Name: 'home-missing', Upstream: 'ssh://h.example/c.git', IdentityFile: '~/.ssh/id_nope' },
    { Name: 'home-dir', Upstream: 'ssh://h.example/d.git', KnownHosts: '~/.ssh/a-directory' },
    { Name: 'abs-missing', Upstream: 'ssh://h.example/e.git', KnownHosts: path.join(base, 'keys', 'missing_hosts') },
    { Name: 'rel-kh-dir', Upstream: 'ssh://h.example/f.git', KnownHosts: './keys/a-directory/' },
  ];
  const err = await rejects(() => validateManifest(gitWith(...entries), 'bottle.json', base, home));
  expectManifestError(err, [
    `bottles.dev.git[0].IdentityFile: ${path.join(base, 'keys', 'nope')} (from "keys/nope") does not exist; point it at an existing file (a relative path is read from the manifest's folder, ${base})`,
    `bottles.dev.git[1].IdentityFile: ${path.join(base, 'keys', 'a-directory')} (from "keys/a-directory") is a directory; point it at the file itself`,
    `bottles.dev.git[2].IdentityFile: ${path.join(home, '.ssh', 'id_nope')} (from "~/.ssh/id_nope") does not exist`,
    `bottles.dev.git[3].KnownHosts: ${path.join(home, '.ssh', 'a-directory')} (from "~/.ssh/a-directory") is a directory`,
    `bottles.dev.git[4].KnownHosts: ${path.join(base, 'keys', 'missing_hosts')} does not exist`,
    `bottles.dev.git[5].KnownHosts: ${path.join(base, 'keys', 'a-directory')} (from "./keys/a-directory/") is a directory`,
  ]);
});

bad('an empty IdentityFile', async ({ base, home }) => {
  const err = await rejects(() => validateManifest(gitWith({ ...app, IdentityFile: '' }), 'bottle.json', base, home));
  expectManifestError(err, ['bottles.dev.git[0].IdentityFile: IdentityFile must not be empty']);
});

bad('relative IdentityFile resolves against the manifest folder, not the cwd', async ({ base, home }) => {
  const sub = path.join(base, 'nested');
  await mkdir(path.join(sub, 'keys'), { recursive: true });
  await writeFile(path.join(sub, 'keys', 'id_app'), 'k');
  const file = path.join(sub, 'bottle.json');
  await writeFile(file, JSON.stringify(gitWith({ ...app, IdentityFile: 'keys/id_app' })));
  const loaded = await loadManifest(file, home);
  assert.is(loaded.baseDir, sub);
  await writeFile(path.join(base, 'bottle.json'), JSON.stringify(gitWith({ ...app, IdentityFile: 'keys/nowhere' })));
  const err = await rejects(() => loadManifest(path.join(base, 'bottle.json'), home));
  expectManifestError(err, [`bottles.dev.git[0].IdentityFile: ${path.join(base, 'keys', 'nowhere')}`]);
});

const json = suite<World>('manifest: JSON text');
json.before(async (ctx) => {
  Object.assign(ctx, await makeWorld());
});
json.after(cleanupTempDirs);

async function jsonError(world: World, text: string): Promise<BottleError> {
  const err = await rejects(() => parseManifestText(text, 'bottle.json', world.base, world.home));
  assert.is(err.exit, EXIT_USAGE);
  return err;
}

json('invalid JSON names the exact line and column', async (w) => {
  const text = '{\n  "bottles": {\n    "dev": {}\n  }\n  "agents": {}\n}\n';
  const err = await jsonError(w, text);
  assert.is(err.code, 'MANIFEST_INVALID_JSON');
  assert.is(err.message, 'bottle.json is not valid JSON');
  assert.equal(err.details, ['line 5, column 3: expected "," between entries']);
});

json('a missing colon, a bad value, an unclosed object', async (w) => {
  assert.equal((await jsonError(w, '{"bottles" {}}')).details, ['line 1, column 12: expected ":" after the key']);
  assert.equal((await jsonError(w, '{\n"bottles": {},\n"agents": tru\n}')).details, ['line 3, column 11: unexpected "tru"']);
  assert.equal((await jsonError(w, '{"bottles": {}, "agents": {}')).details, ['line 1, column 29: expected "}" to close the object']);
  assert.equal((await jsonError(w, "{'bottles': {}}")).details, ['line 1, column 2: strings and keys need double quotes, not single quotes']);
  assert.equal((await jsonError(w, '{"bottles": {}, "agents": {}}\n{}')).details, ['line 2, column 1: unexpected text after the end of the JSON value']);
  assert.equal((await jsonError(w, '{"agents": "a\nb"}')).details.length, 1);
});

json('comments are refused with their position', async (w) => {
  const err = await jsonError(w, '{\n  // my bottles\n  "bottles": {}, "agents": {}\n}');
  assert.is(err.code, 'MANIFEST_INVALID_JSON');
  assert.equal(err.details, ['line 2, column 3: comments are not allowed in JSON; remove the comment']);
  const block = await jsonError(w, '/* header */ {"bottles": {}, "agents": {}}');
  assert.equal(block.details, ['line 1, column 1: comments are not allowed in JSON; remove the comment']);
});

json('trailing commas are refused with their position', async (w) => {
  const err = await jsonError(w, '{\n  "bottles": {},\n  "agents": {},\n}');
  assert.is(err.code, 'MANIFEST_INVALID_JSON');
  assert.equal(err.details, ['line 4, column 1: trailing comma before "}"; remove the ","']);
  const arr = await jsonError(w, '{"bottles": {"dev": {"git": [\n  {"Name": "a", "Upstream": "h:a"},\n]}}, "agents": {}}');
  assert.equal(arr.details, ['line 3, column 1: trailing comma before "]"; remove the ","']);
});

json('empty and blank files', async (w) => {
  for (const text of ['', '   \n\t\n', '\uFEFF']) {
    const err = await jsonError(w, text);
    assert.is(err.code, 'MANIFEST_INVALID_JSON');
    assert.is(err.message, 'bottle.json is empty');
    assert.equal(err.details, ['line 1, column 1: expected a JSON object with "bottles" and "agents"']);
  }
});

json('array, null, string and number at the top level', async (w) => {
  for (const [text, what] of [['[]', 'an array'], ['null', 'null'], ['"bottles"', 'string'], ['42', 'number']] as const) {
    const err = await jsonError(w, text);
    assert.is(err.code, 'MANIFEST_INVALID');
    assert.equal(err.details, [`(top level): expected an object with "bottles" and "agents" but got ${what}`]);
  }
});

json('a key repeated in one object is refused with both places', async (w) => {
  const err = await jsonError(w, '{\n  "bottles": {"dev": {}},\n  "agents": {\n    "demo": {"bottle": "dev"},\n    "demo": {"bottle": "dev", "prompt": "x"}\n  }\n}');
  assert.is(err.code, 'MANIFEST_INVALID');
  assert.equal(err.details, ['agents.demo: key "demo" appears twice in one object (again at line 5, column 5); keep one']);
  const top = await jsonError(w, '{"bottles": {}, "agents": {}, "bottles": {}}');
  assert.equal(top.details, ['bottles: key "bottles" appears twice in one object (again at line 1, column 31); keep one']);
});

json('an input over 1 MiB is refused before parsing', async (w) => {
  const big = JSON.stringify({ bottles: {}, agents: { demo: { bottle: 'dev', prompt: 'x'.repeat(MANIFEST_MAX_BYTES) } } });
  const err = await jsonError(w, big);
  assert.is(err.code, 'MANIFEST_INVALID');
  assert.match(err.message, /the limit is 1 MiB/);
  assert.equal(err.details, [`(top level): ${Buffer.byteLength(big)} bytes is more than ${MANIFEST_MAX_BYTES}`]);
  const file = path.join(w.base, 'big.json');
  await writeFile(file, big);
  const fromFile = await rejects(() => loadManifest(file, w.home));
  assert.is(fromFile.code, 'MANIFEST_INVALID');
  assert.is(fromFile.exit, EXIT_USAGE);
  assert.match(fromFile.message, /the limit is 1 MiB/);
});

json('a manifest of exactly 1 MiB is still parsed', async (w) => {
  const head = '{"bottles": {}, "agents": {}}';
  const text = head + ' '.repeat(MANIFEST_MAX_BYTES - head.length);
  const loaded = await parseManifestText(text, 'bottle.json', w.base, w.home);
  assert.equal(loaded.manifest, { bottles: {}, agents: {} });
});

json('100000-deep nesting is refused without overflowing the stack', async (w) => {
  for (const text of ['['.repeat(100000) + ']'.repeat(100000), '{"a":'.repeat(100000) + '1' + '}'.repeat(100000), '['.repeat(100000)]) {
    const err = await jsonError(w, text);
    assert.is(err.code, 'MANIFEST_INVALID');
    assert.match(err.message, /nests 100000 levels deep; the limit is 64/);
  }
  // brackets inside strings are not nesting
  const inString = JSON.stringify({ bottles: {}, agents: { demo: { bottle: 'dev', prompt: '['.repeat(100000) } } });
  const err = await jsonError(w, inString);
  assert.equal(err.details, ['agents.demo.bottle: bottle "dev" is not defined in "bottles" (no bottles are defined)']);
});

json('a byte-order mark at the start is accepted', async (w) => {
  const loaded = await parseManifestText('\uFEFF{"bottles": {}, "agents": {}}', 'bottle.json', w.base, w.home);
  assert.equal(loaded.manifest, { bottles: {}, agents: {} });
});

const files = suite<World>('manifest: files');
files.before(async (ctx) => {
  Object.assign(ctx, await makeWorld());
});
files.after(cleanupTempDirs);

files('a directory instead of a file', async ({ base, home }) => {
  const err = await rejects(() => loadManifest(path.join(base, 'keys'), home));
  assert.is(err.code, 'MANIFEST_UNREADABLE');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, `manifest ${path.join(base, 'keys')} is a directory, not a file`);
  assert.equal(err.suggestions, [`Point at the file inside it, e.g. --manifest ${path.join(base, 'keys', 'bottle.json')}`]);
});

files('a missing file', async ({ base, home }) => {
  const err = await rejects(() => loadManifest(path.join(base, 'nope.json'), home));
  assert.is(err.code, 'MANIFEST_NOT_FOUND');
  assert.is(err.exit, EXIT_USAGE);
  assert.is(err.message, `manifest ${path.join(base, 'nope.json')} does not exist`);
  const under = await rejects(() => loadManifest(path.join(base, 'keys', 'id_app', 'bottle.json'), home));
  assert.is(under.code, 'MANIFEST_NOT_FOUND');
});

files('a dangling symlink is a missing file; a symlink to a file is followed', async ({ base, home }) => {
  await symlink(path.join(base, 'gone.json'), path.join(base, 'dangling.json'));
  assert.is((await rejects(() => loadManifest(path.join(base, 'dangling.json'), home))).code, 'MANIFEST_NOT_FOUND');
  await writeFile(path.join(base, 'real.json'), '{"bottles": {}, "agents": {}}');
  await symlink(path.join(base, 'real.json'), path.join(base, 'link.json'));
  const loaded = await loadManifest(path.join(base, 'link.json'), home);
  assert.is(loaded.source, path.join(base, 'link.json'));
});

files('not a regular file', async ({ home }) => {
  const err = await rejects(() => loadManifest('/dev/null', home));
  assert.is(err.code, 'MANIFEST_UNREADABLE');
  assert.is(err.exit, EXIT_USAGE);
  assert.match(err.message, /is not a regular file/);
});

files('~ in the manifest path is the home folder', async ({ home }) => {
  await writeFile(path.join(home, 'bottle.json'), '{"bottles": {}, "agents": {}}');
  const loaded = await loadManifest('~/bottle.json', home);
  assert.is(loaded.source, path.join(home, 'bottle.json'));
  assert.is(loaded.baseDir, home);
});

const good = suite<World>('manifest: good manifests');
good.before(async (ctx) => {
  Object.assign(ctx, await makeWorld());
});
good.after(cleanupTempDirs);

const SPEC_EXAMPLE = `{
  "bottles": {
    "dev": {
      "git": [{ "Name": "app", "Upstream": "ssh://git@host/app.git", "IdentityFile": "~/.ssh/id_ed25519" }],
      "git_user": { "name": "Bot", "email": "bot@example.com" },
      "egress": { "routes": [{ "host": "api.anthropic.com",
                               "auth": { "header": "x-api-key", "env": "ANTHROPIC_API_KEY" } }] },
      "supervise": true
    }
  },
  "agents": {
    "demo": { "bottle": "dev", "skills": ["init-prd"], "prompt": "You are ...",
              "provisioners": ["ca", "git", "prompt", "skills", "supervise"] }
  }
}`;

good('the SPEC example', async ({ base, home }) => {
  const file = path.join(base, 'bottle.json');
  await writeFile(file, SPEC_EXAMPLE);
  const loaded = await loadManifest(file, home);
  assert.is(loaded.source, file);
  assert.is(loaded.baseDir, base);
  assert.equal(loaded.manifest, JSON.parse(SPEC_EXAMPLE) as Manifest);
});

good('the minimal manifest', async ({ base, home }) => {
  const loaded = await parseManifestText('{"bottles":{},"agents":{}}', '<inline>', base, home);
  assert.equal(loaded, { manifest: { bottles: {}, agents: {} }, source: '<inline>', baseDir: base });
  const one = await validateManifest({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev' } } }, '<inline>', base, home);
  assert.equal(one.manifest.agents.demo, { bottle: 'dev' });
});

good('every key, with values normalised', async ({ base, home }) => {
  const all = {
    $schema: 'https://example.com/bottle.schema.json',
    bottles: {
      dev: {
        git: [
          { Name: 'app', Upstream: 'git@host.example:org/app.git', IdentityFile: 'keys/id_app', KnownHosts: 'keys/known_hosts', push: false, protect: ['main', 'release/*'], refs: ['refs/notes/*', 'refs/for/*'] },
          { Name: 'Lib_2.x', Upstream: 'https://host.example/lib.git', IdentityFile: '~/.ssh/id_ed25519', KnownHosts: '~/.ssh/known_hosts' },
          { Name: 'local', Upstream: 'file:///srv/git/local.git', IdentityFile: path.join(base, 'keys', 'id_app') },
        ],
        git_user: { name: ' Bot ', email: 'bot@example.com' },
        egress: {
          routes: [
            { host: 'API.Anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } },
            { host: '*.githubusercontent.com', methods: ['GET', 'HEAD'], paths: ['/org/'] },
            { host: 'llm.example.com', to: 'http://127.0.0.1:8443', auth: { header: 'authorization', env: 'LLM_TOKEN', format: 'Bearer {value}', cleartext: true } },
          ],
        },
        supervise: false,
      },
      'prod_2': {},
    },
    agents: {
      demo: { bottle: 'dev', skills: ['init-prd', 'review.v2'], prompt: '', provisioners: ['ca', { name: 'git' }, { name: 'prompt', options: { nested: { deep: [1, 2] } } }] },
      'ops-1': { bottle: 'prod_2', provisioners: [] },
    },
  };
  const loaded = await validateManifest(all, 'bottle.json', base, home);
  const m = loaded.manifest;
  assert.is(m.bottles.dev!.egress!.routes![0]!.host, 'api.anthropic.com', 'host is lower-cased');
  assert.is(m.bottles.dev!.git_user!.name, 'Bot', 'names are trimmed');
  assert.equal(m.agents.demo!.provisioners![2], { name: 'prompt', options: { nested: { deep: [1, 2] } } });
  assert.equal(m.agents['ops-1'], { bottle: 'prod_2', provisioners: [] });
  assert.is(m.bottles.dev!.git!.length, 3);
  assert.equal(m.bottles.dev!.git![0]!.refs, ['refs/notes/*', 'refs/for/*']);
});

for (const upstream of GOOD_UPSTREAMS) {
  good(`good Upstream ${upstream}`, async ({ base, home }) => {
    assert.ok(isGitUrl(upstream));
    await validateManifest(gitWith({ Name: 'app', Upstream: upstream }), 'bottle.json', base, home);
  });
}

good('supervise: true, false, or the credentials a request may ask for', async ({ base, home }) => {
  for (const supervise of [true, false, {}, { credentials: [] }, { credentials: ['GITHUB_TOKEN', 'npm_token'] }]) {
    const loaded = await validateManifest({ bottles: { dev: { supervise } }, agents: { demo: { bottle: 'dev' } } }, 'bottle.json', base, home);
    assert.equal(loaded.manifest.bottles.dev!.supervise, supervise);
  }
});

good('route hosts that are names pass, including numeric labels before the last', async ({ base, home }) => {
  const loaded = await validateManifest(routeWith({ host: '1.example.com' }, { host: 'xn--bcher-kva.example' }, { host: 'a-b.c-d.io' }, { host: 'localhost' }), 'bottle.json', base, home);
  assert.equal(loaded.manifest.bottles.dev!.egress!.routes!.map((r) => r.host), ['1.example.com', 'xn--bcher-kva.example', 'a-b.c-d.io', 'localhost']);
});

bad.run();
json.run();
files.run();
good.run();
