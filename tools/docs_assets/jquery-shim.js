/* The one jQuery call that folium's popups make, $(`<div>...</div>`)[0], without jQuery:
   parse the markup and return its top-level elements. The docs build uses this file only for maps
   whose script calls `$` in no other way. */
window.jQuery = window.$ = function (markup) {
  var t = document.createElement('template');
  t.innerHTML = String(markup).trim();
  return Array.prototype.slice.call(t.content.children);
};
