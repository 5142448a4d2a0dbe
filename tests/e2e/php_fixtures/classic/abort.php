<?php
// Streams for about two seconds. ?ignore=1 keeps running after the client left.
// The marker file says how far the script got and what connection_aborted() said.
ignore_user_abort(($_GET['ignore'] ?? '0') === '1');
$marker = __DIR__ . '/markers/' . basename($_GET['marker'] ?? 'abort');
for ($i = 0; $i < 40; $i++) {
    echo str_repeat('.', 1024), "\n";
    flush();
    file_put_contents($marker, "progress $i");
    usleep(50000);
}
file_put_contents($marker, 'finished aborted=' . connection_aborted());
