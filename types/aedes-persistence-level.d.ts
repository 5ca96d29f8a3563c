// aedes-persistence-level ships no types; its async persistence takes an abstract-level database.
declare module 'aedes-persistence-level/asyncPersistence.js' {
  import type { Level } from 'level'
  export default class AsyncLevelPersistence {
    constructor(db: Level<string, unknown>)
    setup(broker: unknown): Promise<void>
  }
}
