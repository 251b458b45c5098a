"""Chapter 4 of Deep Learning from Scratch: learning from data by gradient descent."""
