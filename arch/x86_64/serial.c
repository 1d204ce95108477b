/* COM1 serial console (16550 UART), polled. */
#include "cpu.h"
#include "printk.h"
#include "uart.h"

#define BAUD_DIV    1       /* 115200 baud */

/* Set up COM1 for 115200 8N1 without interrupts. */
void serial_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, BAUD_DIV & 0xFF);
    outb(COM1 + UART_IER, BAUD_DIV >> 8);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

/* Send one character once the transmitter has room. */
void console_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        cpu_pause();
    outb(COM1 + UART_DATA, (uint8_t)c);
}

/* Disable interrupts on this core, returning the previous RFLAGS for console_irq_restore. */
unsigned long console_irq_save(void)
{
    return irq_save();
}

/* Restore the interrupt flag saved by console_irq_save. */
void console_irq_restore(unsigned long flags)
{
    irq_restore(flags);
}
