<?php
// Answers once the test has created markers/<name> (at most 20 s): a request
// that stays running until the client says so, with no timing involved.
$marker = __DIR__ . '/markers/' . basename($_GET['name'] ?? 'go');
for ($i = 0; $i < 2000 && !file_exists($marker); $i++) {
    usleep(10000);
}
echo file_exists($marker) ? "released\n" : "gave up\n";
