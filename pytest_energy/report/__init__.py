"""Reports: terminal and markdown text, the HTML page and its SVG plots. Text in, text
out: no IO, no pytest."""
