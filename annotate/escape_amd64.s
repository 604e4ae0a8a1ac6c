#include "textflag.h"

// func indexEscape(b []byte) int
//
// SSE2 (every amd64 CPU has it): sixteen bytes per step. A byte needs
// escaping in a JSON string when it is below 0x20 or 0x80 and above (one
// signed compare: bytes from 0x80 are negative), '"' or '\\'.
TEXT ·indexEscape(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ $0x2020202020202020, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8 // 0x20
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9 // '"'
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10 // '\\'
	XORQ DX, DX

loop:
	LEAQ 16(DX), AX
	CMPQ AX, CX
	JA   none
	MOVOU (SI)(DX*1), X0
	MOVOU X8, X1
	PCMPGTB X0, X1 // 0x20 > byte, signed
	MOVOU X0, X2
	PCMPEQB X9, X2
	POR X2, X1
	PCMPEQB X10, X0
	POR X0, X1
	PMOVMSKB X1, BX
	TESTL BX, BX
	JNZ found
	MOVQ AX, DX
	JMP loop

found:
	BSFL BX, BX
	ADDQ BX, DX
	MOVQ DX, ret+24(FP)
	RET

none:
	MOVQ $-1, ret+24(FP)
	RET
