<?php
// The root's index.php: the front-controller worker stands in for it.
require __DIR__ . '/../lib/who.php';
echo who(['WORKER_NAME' => 'classic index.php'], 1);
