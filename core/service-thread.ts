import { isMainThread, parentPort, resourceLimits, workerData } from 'node:worker_threads'

/**
 * The contract between a service process's main thread and the thread the
 * service runs on (cli/service-thread.ts). A worker's stdout and stderr are
 * pipes to the main thread, so whether a person is reading the terminal is
 * passed on here; signals reach only the main thread, which passes a stop on.
 */
export interface ServiceThreadData {
  readonly tidewatchServiceThread: true
  readonly stderrIsTTY: boolean
}

/** The message the main thread posts when the process is asked to stop (SIGINT, SIGTERM). */
export const STOP_SERVICE = 'stop'

/** workerData never changes for a thread: read once. */
const thisThread: ServiceThreadData | undefined = (() => {
  if (isMainThread) return undefined
  const data = workerData as Partial<ServiceThreadData> | null | undefined
  return data?.tidewatchServiceThread === true ? (data as ServiceThreadData) : undefined
})()

/** This thread's data when it is a service's thread, else undefined (the process's main thread, or any other worker). */
export function serviceThreadData(): ServiceThreadData | undefined {
  return thisThread
}

/** The young generation V8 gave this service's thread, in MB (resourceLimits), or undefined off a service's thread. */
export function serviceThreadYoungGenerationMb(): number | undefined {
  return serviceThreadData() ? resourceLimits.maxYoungGenerationSizeMb : undefined
}

/** Whether a person reads stderr: the process's stderr is a terminal, also when asked from a service's thread. */
export function stderrIsTerminal(): boolean {
  return serviceThreadData()?.stderrIsTTY ?? process.stderr.isTTY === true
}

/**
 * On a service's thread: resolves when the main thread posts STOP_SERVICE.
 * The port does not keep the thread alive, so a service that fails to start
 * lets its thread end and the process exit.
 */
export function stopFromMainThread(): Promise<void> {
  return new Promise((resolve) => {
    parentPort!.on('message', function onMessage(message: unknown) {
      if (message !== STOP_SERVICE) return
      parentPort!.off('message', onMessage)
      resolve()
    })
    parentPort!.unref()
  })
}
