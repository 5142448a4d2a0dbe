<?php
// What arrived of the request body: php://input's length and md5, each
// uploaded file's size and md5, and $_POST.
$in = fopen('php://input', 'rb');
$ctx = hash_init('md5');
$n = 0;
while (($b = fread($in, 65536)) !== false && $b !== '') {
    $n += strlen($b);
    hash_update($ctx, $b);
}
$files = [];
foreach ($_FILES as $field => $f) {
    $files[$field] = ['size' => $f['size'], 'md5' => $f['error'] ? null : md5_file($f['tmp_name'])];
}
header('Content-Type: application/json');
echo json_encode(['len' => $n, 'md5' => hash_final($ctx), 'files' => $files, 'post' => $_POST,
    'content_length' => $_SERVER['CONTENT_LENGTH'] ?? null]);
