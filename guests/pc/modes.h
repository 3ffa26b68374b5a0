/*
 * Shared between modes.c and modes_asm.S: selectors, the low-memory layout
 * used in real mode, and the slots of the results.
 */
#ifndef MODES_H
#define MODES_H

#define SEL_CODE32 0x08
#define SEL_DATA32 0x10
#define SEL_CODE16 0x18 /* base RM_BASE, limit 0xffff, 16-bit */
#define SEL_DATA16 0x20 /* base 0, limit 0xffff, 16-bit */
#define SEL_CODE64 0x28 /* L = 1 */
#define GDT_ENTRIES 6

#define RM_BASE 0x8000 /* the 16-bit code runs here (CS.base) */
#define RM_STACK 0x7000
#define RM_IDT16 0x7800 /* 16-bit IDT for 16-bit protected mode */
#define RM_IDT16_PTR 0x7bf0
#define RM_IVT_PTR 0x7bf8

/* Result words (real mode addresses them with DS = 0). */
#define RM_RES 0x7c00
#define R_PM16_PUSH (RM_RES + 0x00)
#define R_RESUME (RM_RES + 0x02)
#define R_PM16_UD_WANT (RM_RES + 0x04)
#define R_RM_CS (RM_RES + 0x06)
#define R_RM_DE_WANT (RM_RES + 0x08)
#define R_RM_UD_WANT (RM_RES + 0x0a)
#define R_FAULT_IP (RM_RES + 0x0c)
#define R_FAULT_COUNT (RM_RES + 0x0e)
#define R_PM16_UD_GOT (RM_RES + 0x10)
#define R_RM_DE_GOT (RM_RES + 0x12)
#define R_RM_UD_GOT (RM_RES + 0x14)
/* An INT n record: the frame's IP, CS, FLAGS, FLAGS inside the handler,
 * SP at the frame, count. One group for 16-bit protected mode (INT 0x31),
 * one for real mode (INT 0x30). */
#define R_INT16 (RM_RES + 0x20)
#define R_INTRM (RM_RES + 0x30)
#define RI_IP 0
#define RI_CS 2
#define RI_FL 4
#define RI_FL_IN 6
#define RI_SP 8
#define RI_COUNT 10
#define RM_RES_SIZE 0x40

/* lm_res[] slots. */
#define LM_EFER_COMPAT 0
#define LM_COMPAT_UD_WANT 1
#define LM_CS64 2
#define LM_GP_WANT 3
#define LM_SS_WANT 4
#define LM_CS_BACK 5
#define LM_EFER_AFTER 6
#define LM_INT_RIP 7
#define LM_INT_CS 8
#define LM_INT_RSP 9
#define LM_INT_SS 10
#define LM_INT_FRAME 11
#define LM_INT_COUNT 12
#define LM_FAULT_ERR 13
#define LM_FAULT_RIP 14
#define LM_FAULT_FLAGS 15
#define LM_FAULT_COUNT 16
#define LM_COMPAT_UD_GOT 17
#define LM_GP_GOT 18
#define LM_GP_ERR 19
#define LM_SS_GOT 20
#define LM_SS_ERR 21
#define LM_INT_CS_COMPAT 22
#define LM_INT_FRAME_COMPAT 23
#define LM_INT_RSP_COMPAT 24
#define LM_RSP_BEFORE_INT 25
#define LM_RES_COUNT 26

#endif
