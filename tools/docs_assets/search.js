/* Search box of the offline docs: matches page titles and headings (API entries included) from
   search-index.js, a script rather than JSON so that it also works when pages are opened as files. */
(function () {
  var input = document.getElementById('search'), list = document.getElementById('search-results');
  var root = document.body.getAttribute('data-root') || '.';
  if (!input || !window.SEARCH_INDEX) return;
  function show() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.innerHTML = '';
    if (!words.length) { list.hidden = true; return; }
    function has(text) { text = text.toLowerCase(); return words.every(function (w) { return text.indexOf(w) >= 0; }); }
    // headings that match come first, then headings of pages whose title matches
    var hits = window.SEARCH_INDEX.filter(function (e) { return has(e.t); })
      .concat(window.SEARCH_INDEX.filter(function (e) { return !has(e.t) && has(e.t + ' ' + e.p); })).slice(0, 20);
    hits.forEach(function (e) {
      var li = document.createElement('li'), a = document.createElement('a');
      a.href = root + '/' + e.u;
      a.textContent = e.t;
      if (e.t !== e.p) { var span = document.createElement('span'); span.textContent = e.p; a.appendChild(span); }
      li.appendChild(a); list.appendChild(li);
    });
    if (!hits.length) { var li = document.createElement('li'); li.textContent = 'No match'; list.appendChild(li); }
    list.hidden = false;
  }
  input.addEventListener('input', show);
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter') { var a = list.querySelector('a'); if (a) window.location.href = a.href; }
    if (ev.key === 'Escape') { input.value = ''; show(); }
  });
})();
