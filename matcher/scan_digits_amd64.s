#include "textflag.h"

// DIGITS16 leaves in R the 16-bit mask of the ASCII digits among the
// sixteen bytes at off(SI): a byte minus '0' (wrapping) is a digit's value
// exactly when it is at most 9, which PMINUB tells without signed
// compares. X0 and X1 are clobbered.
#define DIGITS16(off, R) \
	MOVOU off(SI), X0; \
	PSUBB X9, X0;      \ // byte - '0'
	MOVOU X0, X1;      \
	PMINUB X10, X1;    \ // min(byte - '0', 9)
	PCMPEQB X0, X1;    \ // equal: at most 9, a digit
	PMOVMSKB X1, R

// func digitBlocks(b []byte, m []uint64) int
//
// SSE2, 64 bytes a step: m[j] gets bit k set when b[64j+k] is an ASCII
// digit, for each whole block of b while m has room; returns how many
// blocks it filled. It serves the digit-run engine (digits.go), which
// works on these masks rather than on bytes.
TEXT ·digitBlocks(SB), NOSPLIT, $0-56
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ m_base+24(FP), DI
	MOVQ m_len+32(FP), R8
	SHRQ $6, CX
	CMPQ CX, R8
	CMOVQGT R8, CX       // blocks = min(len(b)/64, len(m))
	MOVQ CX, ret+48(FP)
	MOVQ $0x3030303030303030, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9    // '0'
	MOVQ $0x0909090909090909, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10  // 9
	TESTQ CX, CX
	JZ   done

loop:
	DIGITS16(0, AX)
	DIGITS16(16, BX)
	DIGITS16(32, DX)
	DIGITS16(48, R9)
	SHLQ $16, BX
	SHLQ $32, DX
	SHLQ $48, R9
	ORQ  BX, AX
	ORQ  R9, DX
	ORQ  DX, AX
	MOVQ AX, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop

done:
	RET
