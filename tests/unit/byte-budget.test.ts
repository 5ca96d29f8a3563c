import { describe, expect, it } from 'vitest'
import { ByteBudget } from '../../ingest/byte-budget.ts'

describe('in-flight byte budget', () => {
  it('admits what fits, queues the rest first come first served, and lets an oversized request through alone', async () => {
    const b = new ByteBudget(100)
    expect(b.acquire(60)).toBeUndefined()
    const order: string[] = []
    const big = b.acquire(500)!.then(() => order.push('oversized'))
    // Fits in what is free, but must not overtake the waiting request.
    const small = b.acquire(10)!.then(() => order.push('small'))
    expect(b.waits).toBe(2)
    b.release(60)
    await big
    expect(order).toEqual(['oversized'])
    b.release(500)
    await small
    expect(order).toEqual(['oversized', 'small'])
    b.release(10)
    expect(b.acquire(100)).toBeUndefined()
  })
})
