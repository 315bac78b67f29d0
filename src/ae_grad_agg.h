/*
 * ae_grad_agg.h — the ae_grad aggregate state: the gradient sums of the rows
 * of one optimiser step, as a concrete varlena type that an engine
 * distributing aggregates (Citus, postgres_fdw's aggregate pushdown, a
 * parallel plan) can compute on its workers and merge.
 *
 *   ae_grad_agg(snapshot bytea, x real[]) → ae_grad      per row: add x
 *   ae_grad_finish(ae_grad, snapshot bytea) → bytea      the step's gradient
 *                                                         state (doc/scaling.md)
 *
 * The state keeps the sums of the rows it has computed and up to a chunk of
 * rows still to compute: rows are added to a chunk and the chunk's
 * gradient is computed in one batched pass when it fills, so a worker
 * computes as a shard step does.  Combining adds sums and concatenates what
 * is left of the chunks; ae_grad_finish, which has the snapshot, computes the
 * rest — an engine that runs the final step on a coordinator without the
 * aggregate's arguments (Citus) still gets there.
 *
 * Layout of a value (native byte order; the magic tells a state of another
 * byte order, which is refused):
 *
 *   int32 varlena header
 *   u32 magic "AEGA"   u16 version 1   u16 reserved 0
 *   u64 snapshot identity               i32 d, i32 n_params
 *   i32 capacity (rows the chunk area holds)   i32 pending
 *   i64 rows (rows whose gradient is in the sums)
 *   f64 loss sum, f64 reconstruction-loss sum   u32 CRC-32C (text form only), u32 0
 *   n_params f32 gradient sums, then capacity × d f32 rows (pending in use)
 *
 * The text form (output and input functions) is the value with its chunk
 * area cut to the pending rows, CRC-32C filled in, as base64 after the
 * prefix "AEGA1:"; the input function checks every field before it sizes
 * anything, like every other state autoenc reads.
 */
#ifndef AE_GRAD_AGG_H
#define AE_GRAD_AGG_H

#include "postgres.h"

#define AE_GRAD_MAGIC		0x41474541u /* "AEGA" read little-endian */
#define AE_GRAD_VERSION		1
#define AE_GRAD_CHUNK		256		/* rows computed together */
#define AE_GRAD_TEXT_PREFIX	"AEGA1:"

typedef struct AeGradAgg
{
	int32		vl_len_;
	uint32		magic;
	uint16		version;
	uint16		reserved;
	uint64		snapshot;
	int32		d;
	int32		n_params;
	int32		capacity;
	int32		pending;
	int64		rows;
	double		loss;
	double		recon;
	uint32		crc;
	uint32		zero;
	float		data[FLEXIBLE_ARRAY_MEMBER];
} AeGradAgg;

#define AE_GRAD_HEADER		offsetof(AeGradAgg, data)

#endif							/* AE_GRAD_AGG_H */
