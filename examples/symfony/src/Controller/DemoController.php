<?php

namespace App\Controller;

use Symfony\Bundle\FrameworkBundle\Controller\AbstractController;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpKernel\Kernel;

class DemoController extends AbstractController
{
    /**
     * Pages and JSON answers this PHP interpreter has served: 1 in classic
     * mode, growing in a worker, where the kernel and its container (and
     * this static) outlive the request.
     */
    private static int $served = 0;

    /** GET / : a Twig page. */
    public function home(Request $request): Response
    {
        return $this->render('home.html.twig', [
            'name' => $request->query->get('name', 'world'),
            'mode' => self::mode($request),
            'served' => ++self::$served,
            'symfony' => Kernel::VERSION,
        ]);
    }

    /** GET /json */
    public function info(Request $request): JsonResponse
    {
        return new JsonResponse([
            'framework' => 'symfony',
            'symfony' => Kernel::VERSION,
            'php' => PHP_VERSION,
            'mode' => self::mode($request),
            'served' => ++self::$served,
        ]);
    }

    /** GET /throw : an uncaught exception, rendered as a 500 by the kernel. */
    public function fail(): Response
    {
        throw new \RuntimeException('thrown on purpose by /throw');
    }

    private static function mode(Request $request): string
    {
        return $request->server->has('TORUS_WORKER') || $request->server->has('FRANKENPHP_WORKER')
            ? 'worker' : 'classic';
    }
}
