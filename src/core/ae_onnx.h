/*
 * ae_onnx.h — ONNX models in and out (the ModelProto of the ONNX schema,
 * compiled into C by protoc-c at build time).
 *
 * Out: a bundle as a graph of standard operators, opset 17, IR version 8:
 *   input "input" float32 [N, d]
 *     Sub(offset) → Div(scale)                  normalisation, as autoenc does it
 *     Gemm(W_l, b_l, transB=1) → activation     per weight layer (PyTorch layout)
 *     Mul(scale) → Add(offset)                  back to original units
 *   outputs "reconstruction" [N, d] (original units), "code" [N, k] (the
 *   code layer's activations) and "error" [N] (per-row mean squared error
 *   in normalised units: what ae_error returns with the default metric).
 * Normalisation stays in separate nodes instead of being folded into the
 * first and last Gemm: the graph then computes exactly what the scorer
 * computes, in the same float32 operations, and the weights are the stored
 * ones bit for bit (folding would change every weight's rounding and, for a
 * tied model, break the tie).
 *
 * In: a feed-forward autoencoder as exported by torch.onnx.export of an
 * nn.Sequential or written by ae_onnx_write.  The reconstruction is the
 * graph output named "reconstruction", or the only output.  Walking back
 * from it to the one graph input must give a chain of
 *   [Sub c | Add c] [Div c | Mul c]    input normalisation (the two in
 *                                      either order: (x - o) / s or x a + b)
 *   (Gemm | MatMul [Add c]) [activation]   one weight layer, repeated
 *   [Mul c] [Add c]                    the inverse normalisation (to float32
 *                                      rounding: PyTorch computes it apart)
 * where c is a constant (an initializer or a Constant node), an activation
 * is Relu, Tanh, Sigmoid, LeakyRelu (alpha 0.01), Elu (alpha 1) or none,
 * and Identity may appear anywhere.  Nodes the reconstruction does not
 * depend on (autoenc's own "code" and "error" outputs) are skipped when
 * their op type is one this file knows; any other node is refused.
 *
 * The reader trusts nothing: the input size is checked before it is
 * unpacked, protobuf-c's allocations are bounded by a budget, counts of
 * nodes and tensors are capped, and every tensor's type, dims and data
 * length are checked against each other before a value is read; every
 * value must be finite.
 */
#ifndef AE_ONNX_H
#define AE_ONNX_H

#include "ae_bundle.h"

#define AE_ONNX_MAX_BYTES	((size_t) 320 * 1024 * 1024)	/* 64M float32 weights and room */
#define AE_ONNX_MAX_PARAMS	(64 * 1024 * 1024)	/* as ae_import */
#define AE_ONNX_MAX_NODES	4096	/* nodes, initializers, inputs, outputs each */
#define AE_ONNX_OPSET		17		/* what ae_onnx_write declares */
#define AE_ONNX_IR_VERSION	8

/* Why the reader refused a model: the SQL layer maps each to a SQLSTATE. */
typedef enum AeOnnxProblem
{
	AE_ONNX_OK = 0,
	AE_ONNX_MALFORMED,			/* not a ModelProto: 22P02 */
	AE_ONNX_INVALID,			/* wrong shapes, types, values: 22023 */
	AE_ONNX_UNSUPPORTED,		/* an op or attribute autoenc does not have: 0A000 */
	AE_ONNX_TOO_LARGE			/* beyond a limit above: 54000 */
} AeOnnxProblem;

/*
 * Read an ONNX model of len bytes into *bundle: arch, params, norm_method
 * (zscore when the graph normalises its input, else none), norm_offset,
 * norm_scale, feature_mean (= the offset); every "not known" field NaN, the
 * rest zero.  code_layer < 0 picks the hidden layer that a graph output
 * named "code" holds, else the narrowest (as training does).  Memory comes
 * from al; on failure nothing stays allocated, *problem says why and
 * errbuf (AE_ERRBUF_SIZE) names the node, tensor or limit.  Returns AE_OK,
 * AE_ERR_FORMAT (with *problem) or AE_ERR_NOMEM.
 */
AeStatus	ae_onnx_read(const uint8_t *buf, size_t len, int code_layer, AeBundle *bundle,
						 const AeAllocator *al, AeOnnxProblem *problem, char *errbuf);

/*
 * Write bundle as an ONNX model (the graph above) into *out, *out_len bytes
 * allocated from al.  producer_version goes into the model's
 * producer_version, graph_name into the graph's name.  AE_OK, or
 * AE_ERR_NOMEM, or AE_ERR_CONFIG when the bundle does not bind.
 */
AeStatus	ae_onnx_write(const AeBundle *bundle, const char *graph_name,
						  const char *producer_version, const AeAllocator *al,
						  uint8_t **out, size_t *out_len, char *errbuf);

#endif							/* AE_ONNX_H */
