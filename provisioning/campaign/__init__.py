"""Campaign material: the tagged youth links, their QR codes, print sheets (an A6 card and
A4/A3 posters per channel) and the embed snippet for the municipality's own site."""
