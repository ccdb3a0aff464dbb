import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './cluster.js';

const run = promisify(execFile);

/**
 * PYTHON is Debian's interpreter: the python3 first on PATH (pyenv, a venv) does not see the
 * grpc and protobuf modules that python3-grpcio installs into /usr/lib/python3/dist-packages.
 */
export const PYTHON = '/usr/bin/python3';
export const GRPC_PYTHON_PLUGIN = '/usr/bin/grpc_python_plugin';
export const GEN_PYTHON = join(ROOT, 'scripts/gen-python.sh');

/** The Debian packages the Python client tests need (CI installs them with apt-get). */
export const PYTHON_DEBIAN_PACKAGES = ['python3-grpcio', 'protobuf-compiler', 'protobuf-compiler-grpc'];

/**
 * pythonEnv is the environment for Debian's python3 and for protoc: no proxy (gRPC honours
 * http_proxy / grpc_proxy, and test traffic must go straight to 127.0.0.1), no PYTHONHOME or
 * user site from another Python, and PYTHONPATH pointing at the generated client.
 */
export function pythonEnv(pythonPath?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONNOUSERSITE: '1', PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  for (const k of Object.keys(env)) {
    if (/^(https?_proxy|grpc_proxy|all_proxy|no_proxy)$/i.test(k) || k === 'PYTHONHOME' || k === 'PYTHONPATH' || k === 'PYTHONSTARTUP') delete env[k];
  }
  if (pythonPath) env.PYTHONPATH = pythonPath;
  return env;
}

/**
 * pythonToolchainProblems returns one line per missing piece, each naming the Debian package
 * that provides it; empty when Debian's python3 can import grpc and protobuf and protoc and
 * grpc_python_plugin are installed.
 */
export async function pythonToolchainProblems(): Promise<string[]> {
  const problems: string[] = [];
  try {
    await run('protoc', ['--version'], { timeout: 10_000, env: pythonEnv() });
  } catch (e) {
    problems.push(`protoc is not on PATH (${(e as Error).message.split('\n')[0]}): install Debian's protobuf-compiler`);
  }
  if (!existsSync(GRPC_PYTHON_PLUGIN)) problems.push(`${GRPC_PYTHON_PLUGIN} is missing: install Debian's protobuf-compiler-grpc`);
  if (!existsSync(PYTHON)) {
    problems.push(`${PYTHON} is missing: install Debian's python3-grpcio (it pulls in python3 and python3-protobuf)`);
    return problems;
  }
  for (const [mod, pkg] of [['grpc', 'python3-grpcio'], ['google.protobuf', 'python3-protobuf (a dependency of python3-grpcio)']]) {
    try {
      await run(PYTHON, ['-c', `import ${mod}`], { timeout: 20_000, env: pythonEnv() });
    } catch (e) {
      const err = e as Error & { stderr?: string };
      const last = (err.stderr ?? err.message).trim().split('\n').pop();
      problems.push(`${PYTHON} cannot import ${mod} (${last}): install Debian's ${pkg}`);
    }
  }
  return problems;
}

/** requirePythonToolchain throws (failing the test, never skipping it) when anything is missing. */
export async function requirePythonToolchain(): Promise<void> {
  const problems = await pythonToolchainProblems();
  if (problems.length) {
    throw new Error(
      `the Python client test needs Debian packages: apt-get install -y ${PYTHON_DEBIAN_PACKAGES.join(' ')}\n  - ${problems.join('\n  - ')}`,
    );
  }
}

/** genPython runs scripts/gen-python.sh into outDir and returns its stdout. */
export async function genPython(outDir: string): Promise<string> {
  try {
    const { stdout } = await run('bash', [GEN_PYTHON, outDir], { timeout: 60_000, env: pythonEnv(), cwd: ROOT });
    return stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`scripts/gen-python.sh ${outDir} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/** runPython runs a script with Debian's python3, the generated client on PYTHONPATH. */
export async function runPython(script: string, args: string[], opts: { pythonPath: string; cwd: string; timeoutMs?: number }): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, [script, ...args], {
      timeout: opts.timeoutMs ?? 60_000,
      env: pythonEnv(opts.pythonPath),
      cwd: opts.cwd,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${PYTHON} ${script} ${args.join(' ')} failed: ${err.message}\nstdout:\n${err.stdout ?? ''}\nstderr:\n${err.stderr ?? ''}`);
  }
}
