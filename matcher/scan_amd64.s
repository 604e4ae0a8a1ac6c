#include "textflag.h"

// CANDIDATES leaves in X2 the positions of '8's (X0) whose previous byte
// (X1) is no word byte; X1, X3-X6 are clobbered. Signed compares: bytes
// >= 0x80 are negative, so never in a range.
#define CANDIDATES \
	PCMPEQB X8, X0;  \ // byte == '8'
	MOVOU X1, X2;    \
	PCMPGTB X9, X2;  \ // prev > '0'-1
	MOVOU X10, X3;   \
	PCMPGTB X1, X3;  \ // '9'+1 > prev
	PAND X3, X2;     \ // digit
	MOVOU X1, X4;    \
	POR X11, X4;     \ // lower-cased
	MOVOU X4, X5;    \
	PCMPGTB X12, X4; \ // > 'a'-1
	MOVOU X13, X6;   \
	PCMPGTB X5, X6;  \ // 'z'+1 >
	PAND X6, X4;     \ // letter
	PCMPEQB X14, X1; \ // '_'
	POR X4, X2;      \
	POR X1, X2;      \ // word byte
	PANDN X0, X2        // '8' after no word byte

// func wordStart8(b []byte) int
//
// SSE2 (every amd64 CPU has it): sixteen positions per step, the compare
// against '8' and the word-byte class of the byte before each position
// done byte-parallel. Only a candidate leaves the loop.
TEXT ·wordStart8(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ $0x3838383838383838, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8   // '8'
	MOVQ $0x2f2f2f2f2f2f2f2f, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9   // '0'-1
	MOVQ $0x3a3a3a3a3a3a3a3a, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10 // '9'+1
	MOVQ $0x2020202020202020, AX
	MOVQ AX, X11
	PUNPCKLQDQ X11, X11 // case bit
	MOVQ $0x6060606060606060, AX
	MOVQ AX, X12
	PUNPCKLQDQ X12, X12 // 'a'-1
	MOVQ $0x7b7b7b7b7b7b7b7b, AX
	MOVQ AX, X13
	PUNPCKLQDQ X13, X13 // 'z'+1
	MOVQ $0x5f5f5f5f5f5f5f5f, AX
	MOVQ AX, X14
	PUNPCKLQDQ X14, X14 // '_'
	MOVQ $1, DX         // k: the position examined first in this step

	// Thirty-two positions per step while they last, one branch for both
	// halves, then sixteen.
loop32:
	LEAQ 32(DX), AX
	CMPQ AX, CX
	JA   loop
	MOVOU (SI)(DX*1), X0
	MOVOU -1(SI)(DX*1), X1
	CANDIDATES
	MOVOU X2, X7
	MOVOU 16(SI)(DX*1), X0
	MOVOU 15(SI)(DX*1), X1
	CANDIDATES
	PMOVMSKB X7, AX
	PMOVMSKB X2, BX
	SHLL $16, BX
	ORL  BX, AX
	JNZ found
	ADDQ $32, DX
	JMP loop32

loop:
	LEAQ 16(DX), AX
	CMPQ AX, CX
	JA   none
	MOVOU (SI)(DX*1), X0   // b[k:k+16]
	MOVOU -1(SI)(DX*1), X1 // b[k-1:k+15], the bytes before them
	CANDIDATES
	PMOVMSKB X2, AX
	TESTL AX, AX
	JNZ found
	ADDQ $16, DX
	JMP loop

found:
	BSFL AX, AX
	ADDQ DX, AX
	MOVQ AX, ret+24(FP)
	RET

none:
	MOVQ $-1, ret+24(FP)
	RET

// PAIRS leaves in X2 the positions whose byte (X0) lies in (X9, X10) and
// whose previous byte (X1) is X8; X1 and X3 are clobbered.
#define PAIRS \
	PCMPEQB X8, X1; \ // first before
	MOVOU X0, X2;   \
	PCMPGTB X9, X2; \ // > lo-1
	MOVOU X10, X3;  \
	PCMPGTB X0, X3; \ // hi+1 >
	PAND X3, X2;    \
	PAND X1, X2

// func indexPair(b []byte, first, lo, hi byte) int
//
// SSE2, sixteen positions per step: the first k >= 1 where b[k-1] is
// first and b[k] lies in [lo, hi] (hi below 0x7f: the range test is two
// signed compares), looking at whole steps only, or -1. It serves the
// pair prefilter of the automaton (pairs.go): an underscore followed by a
// digit, found in one pass rather than a call per underscore.
TEXT ·indexPair(SB), NOSPLIT, $0-40
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ $0x0101010101010101, BX
	MOVBQZX first+24(FP), AX
	IMULQ BX, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8 // first
	MOVBQZX lo+25(FP), AX
	DECQ AX
	ANDQ $0xff, AX
	IMULQ BX, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9 // lo-1
	MOVBQZX hi+26(FP), AX
	INCQ AX
	IMULQ BX, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10 // hi+1
	MOVQ $1, DX

	// Thirty-two positions per step while they last, one branch for both
	// halves, then sixteen.
pairloop32:
	LEAQ 32(DX), AX
	CMPQ AX, CX
	JA   pairloop
	MOVOU (SI)(DX*1), X0
	MOVOU -1(SI)(DX*1), X1
	PAIRS
	MOVOU X2, X7
	MOVOU 16(SI)(DX*1), X0
	MOVOU 15(SI)(DX*1), X1
	PAIRS
	PMOVMSKB X7, BX
	PMOVMSKB X2, R8
	SHLL $16, R8
	ORL  R8, BX
	JNZ pairfound
	MOVQ AX, DX
	JMP pairloop32

pairloop:
	LEAQ 16(DX), AX
	CMPQ AX, CX
	JA   pairnone
	MOVOU (SI)(DX*1), X0
	MOVOU -1(SI)(DX*1), X1
	PAIRS
	PMOVMSKB X2, BX
	TESTL BX, BX
	JNZ pairfound
	MOVQ AX, DX
	JMP pairloop

pairfound:
	BSFL BX, BX
	ADDQ BX, DX
	MOVQ DX, ret+32(FP)
	RET

pairnone:
	MOVQ $-1, ret+32(FP)
	RET

// RPAIRS leaves in X2 the positions whose byte (X0) lies in (X9, X10) and
// whose previous byte (X1) lies in (X11, X12); X3-X5 are clobbered.
#define RPAIRS \
	MOVOU X1, X3;    \
	PCMPGTB X11, X3; \ // prev > lo1-1
	MOVOU X12, X4;   \
	PCMPGTB X1, X4;  \ // hi1+1 > prev
	PAND X4, X3;     \
	MOVOU X0, X2;    \
	PCMPGTB X9, X2;  \ // > lo2-1
	MOVOU X10, X5;   \
	PCMPGTB X0, X5;  \ // hi2+1 >
	PAND X5, X2;     \
	PAND X3, X2

// BROADCAST sets X to the byte at arg(FP) plus d (wrapping), in every
// lane; AX is clobbered, BX holds 0x0101010101010101.
#define BROADCAST(arg, d, X) \
	MOVBQZX arg, AX; \
	ADDQ $d, AX;     \
	ANDQ $0xff, AX;  \
	IMULQ BX, AX;    \
	MOVQ AX, X;      \
	PUNPCKLQDQ X, X

// func indexRangePair(b []byte, lo1, hi1, lo2, hi2 byte) int
//
// SSE2, thirty-two then sixteen positions per step: the first k >= 1
// where b[k-1] lies in [lo1, hi1] and b[k] in [lo2, hi2] (both ranges
// below 0x7f), looking at whole steps only, or -1. It serves the bigram
// prefilter (bigrams.go): a lower-case letter then an upper-case one,
// the hump of camelCase, found many bytes a step rather than a table
// lookup per byte.
TEXT ·indexRangePair(SB), NOSPLIT, $0-40
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ $0x0101010101010101, BX
	BROADCAST(lo1+24(FP), -1, X11)
	BROADCAST(hi1+25(FP), 1, X12)
	BROADCAST(lo2+26(FP), -1, X9)
	BROADCAST(hi2+27(FP), 1, X10)
	MOVQ $1, DX

rloop32:
	LEAQ 32(DX), AX
	CMPQ AX, CX
	JA   rloop
	MOVOU (SI)(DX*1), X0
	MOVOU -1(SI)(DX*1), X1
	RPAIRS
	MOVOU X2, X7
	MOVOU 16(SI)(DX*1), X0
	MOVOU 15(SI)(DX*1), X1
	RPAIRS
	PMOVMSKB X7, BX
	PMOVMSKB X2, R8
	SHLL $16, R8
	ORL  R8, BX
	JNZ rfound
	MOVQ AX, DX
	JMP rloop32

rloop:
	LEAQ 16(DX), AX
	CMPQ AX, CX
	JA   rnone
	MOVOU (SI)(DX*1), X0
	MOVOU -1(SI)(DX*1), X1
	RPAIRS
	PMOVMSKB X2, BX
	TESTL BX, BX
	JNZ rfound
	MOVQ AX, DX
	JMP rloop

rfound:
	BSFL BX, BX
	ADDQ BX, DX
	MOVQ DX, ret+32(FP)
	RET

rnone:
	MOVQ $-1, ret+32(FP)
	RET
