<?php
// The response of tests/e2e/test_compression.py, shaped by the query:
//   size=N       about N body bytes of HTML-like text (deterministic)
//   type=T       Content-Type
//   etag=1       a strong ETag       cl=1    the script's own Content-Length
//   ce=1         the script gzips the body itself (Content-Encoding: gzip)
//   nt=1         Cache-Control: no-transform
//   status=N     the status code
//   flush=DIR    flush() after a first part, then wait (up to 10 s) for the file
//                DIR/go before writing the rest: the test reads the first part
//                while the script is still running
$size = (int)($_GET['size'] ?? 5000);
$body = '';
for ($i = 0; strlen($body) < $size; $i++) {
    $body .= "<li class=\"row\">row $i of the compressible page: " . str_repeat(chr(97 + $i % 26), $i % 17) . "</li>\n";
}
$body = substr($body, 0, $size);
if (isset($_GET['type'])) header('Content-Type: ' . $_GET['type']);
if (isset($_GET['etag'])) header('ETag: "page-' . $size . '"');
if (isset($_GET['nt'])) header('Cache-Control: public, no-transform');
if (isset($_GET['status'])) http_response_code((int)$_GET['status']);
if (isset($_GET['ce'])) {
    header('Content-Encoding: gzip');
    $body = gzencode($body);
}
if (isset($_GET['cl'])) header('Content-Length: ' . strlen($body));
if (isset($_GET['flush'])) {
    $half = intdiv(strlen($body), 2);
    echo substr($body, 0, $half);
    flush();
    $go = $_GET['flush'] . '/go';
    for ($i = 0; $i < 1000 && !file_exists($go); $i++) usleep(10000);
    echo substr($body, $half);
    return;
}
echo $body;
