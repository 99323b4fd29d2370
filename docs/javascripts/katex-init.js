// Render the math that pymdownx.arithmatex (generic mode) leaves as \( ... \) and
// \[ ... \] inside <span|div class="arithmatex">, with the KaTeX copy vendored beside this
// file.  Material's document$ fires on every page load, including instant navigation.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
});
