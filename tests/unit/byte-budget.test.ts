import { describe, expect, it } from 'vitest'
import { ByteBudget } from '../../ingest/byte-budget.ts'

describe('in-flight byte budget', () => {
  it('admits what fits, queues the rest first come first served, and lets an oversized request through alone', async () => {
    const b = new ByteBudget(100)
    expect(b.acquire(60)).toBeUndefined()
    const order: string[] = []
    const bigWait = b.acquire(500)
    // Fits in what is free, but must not overtake the waiting request.
    const smallWait = b.acquire(10)
    expect(bigWait).toBeInstanceOf(Promise)
    expect(smallWait).toBeInstanceOf(Promise)
    const big = bigWait!.then(() => order.push('oversized'))
    const small = smallWait!.then(() => order.push('small'))
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
