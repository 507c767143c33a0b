"""bookingctl: command line for operators of the booking system."""
