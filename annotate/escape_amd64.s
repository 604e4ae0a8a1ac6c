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

// func escapeQuotes(dst, src []byte) (w, r int)
//
// Copies src into dst's spare room (dst's length is 0, its capacity the
// room) sixteen bytes a step, escaping '"' and '\\' on the way, until
// fewer than sixteen bytes are left, the room runs short, or a byte needs
// another escape (the caller's). Every step stores sixteen bytes and keeps
// those before the first byte to escape: JSON log lines hold a quote every
// few bytes, and a quote then costs a handful of instructions.
TEXT ·escapeQuotes(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ dst_cap+16(FP), R8
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ $0x2020202020202020, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8 // 0x20
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9 // '"'
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10 // '\\'
	XORQ DX, DX // r
	XORQ R9, R9 // w

step:
	LEAQ 16(DX), AX
	CMPQ AX, CX
	JA   done
	LEAQ 32(R9), AX
	CMPQ AX, R8
	JA   done
	MOVOU (SI)(DX*1), X0
	MOVOU X0, (DI)(R9*1)
	MOVOU X8, X1
	PCMPGTB X0, X1 // 0x20 > byte, signed: control bytes and 0x80 up
	MOVOU X0, X2
	PCMPEQB X9, X2
	POR X2, X1
	PCMPEQB X10, X0
	POR X0, X1
	PMOVMSKB X1, AX
	TESTL AX, AX
	JNZ escape
	ADDQ $16, DX
	ADDQ $16, R9
	JMP step

escape:
	BSFL AX, AX
	ADDQ AX, DX
	ADDQ AX, R9
	MOVBLZX (SI)(DX*1), AX
	CMPB AL, $0x22
	JEQ quote
	CMPB AL, $0x5c
	JEQ quote
	JMP done

quote:
	MOVB $0x5c, (DI)(R9*1)
	MOVB AL, 1(DI)(R9*1)
	ADDQ $2, R9
	INCQ DX
	JMP step

done:
	MOVQ R9, w+48(FP)
	MOVQ DX, r+56(FP)
	RET
