"""GAN remedies and instruments as Lightning callbacks, one file each."""
