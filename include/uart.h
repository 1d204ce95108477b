/*
 * The 16550 UART of the PC's first serial port (COM1): the kernel's console
 * (arch/x86_64/serial.c, boot.S's last message) and the ports the I/O-space tests
 * delegate to user programs. Plain numbers: C and assembly.
 */
#pragma once

#define COM1        0x3F8   /* I/O base of the first serial port */
#define COM2        0x2F8   /* I/O base of the second serial port */
#define UART_PORTS  8       /* I/O ports of one UART */

/*      register    offset  meaning */
#define UART_DATA   0       /* transmit/receive buffer; divisor low with DLAB */
#define UART_IER    1       /* interrupt enable; divisor high with DLAB */
#define UART_FCR    2       /* FIFO control */
#define UART_LCR    3       /* line control */
#define UART_MCR    4       /* modem control */
#define UART_LSR    5       /* line status: reading it has no side effect */
#define UART_SCR    7       /* scratch: holds any byte */

/*      bit         value   meaning */
#define LCR_8N1     0x03    /* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB    0x80    /* divisor latch access */
#define FCR_ENABLE  0xC7    /* enable and clear FIFOs, 14-byte threshold */
#define MCR_DTR_RTS 0x03    /* data terminal ready, request to send */
#define LSR_THRE    0x20    /* transmit holding register empty */
