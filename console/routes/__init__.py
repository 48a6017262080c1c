"""The console's pages, one module per page group: sign-in, the book, a customer, the review queue."""
