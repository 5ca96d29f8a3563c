import { Worker } from 'node:worker_threads'
import { STOP_SERVICE, type ServiceThreadData } from '../core/service-thread.ts'

/**
 * Runs `tidewatch ARGV` again on a worker thread of this process, with the
 * young generation the configuration asks for (runtime.youngGenerationMb),
 * and waits for it. V8 sizes a heap when it is created, so a service's
 * young generation can only be chosen for a new isolate: a thread is one
 * without a second process, so kill -9 of the pid still stops everything at
 * once and a supervisor sees one process. The main thread keeps the signals:
 * the first stop is passed on, a second exits at once (cli/main.ts).
 * Resolves to the thread's exit code; when it ended by an uncaught error,
 * prints that error's stack and rejects with it (cli/main.ts adds the one line).
 */
export function runOnServiceThread(opts: {
  /** bin/tidewatch.js: the thread starts the program as the process did. */
  programFile: string
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  youngGenerationMb: number
  until: Promise<void>
}): Promise<number> {
  const workerData: ServiceThreadData = { tidewatchServiceThread: true, stderrIsTTY: process.stderr.isTTY === true }
  const worker = new Worker(opts.programFile, {
    argv: [...opts.argv],
    env: opts.env,
    workerData,
    resourceLimits: { maxYoungGenerationSizeMb: opts.youngGenerationMb },
  })
  void opts.until.then(() => worker.postMessage(STOP_SERVICE))
  return new Promise((resolve, reject) => {
    let failure: unknown
    worker.on('error', (err) => {
      // An uncaught error is a bug: its stack is what finds it (the one-line summary follows, from cli/main.ts).
      if (failure === undefined) process.stderr.write(`${err.stack ?? String(err)}\n`)
      failure ??= err
    })
    worker.once('exit', (code) => (failure === undefined ? resolve(code) : reject(failure)))
  })
}
